/** The web UI's entry point (bundled by ui/build.mjs into dist/ui/app-<hash>.js). */
import { createRoot } from 'react-dom/client';
import { App } from './app.js';
import './style.css';

createRoot(document.getElementById('root')!).render(<App />);
