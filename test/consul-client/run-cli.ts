/** Runs the conclave CLI from source (through tsx), so tests can spawn a real agent process without a build. */
import { main } from '../../cli/main.js';

process.exitCode = await main(process.argv.slice(2));
