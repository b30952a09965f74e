/** esbuild bundles imported stylesheets (ui/build.mjs); TypeScript only needs to know they exist. */
declare module '*.css';
