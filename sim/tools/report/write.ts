/**
 * Writes a report directory: index.html (self-contained, the SVGs inline), each picture as its own
 * .svg file, and record.json (the run record, for other tools).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderPictures, reportHtml, type ReportOptions } from './html.js';
import type { RunRecord } from './record.js';

export interface WrittenReport {
  readonly html: string;
  readonly files: readonly string[];
}

export function writeReport(
  record: RunRecord,
  outDir: string,
  replayCommand?: string,
  options: ReportOptions = {},
): WrittenReport {
  mkdirSync(outDir, { recursive: true });
  const pictures = renderPictures(record, options);
  const files: string[] = [];
  const write = (name: string, text: string): string => {
    const path = join(outDir, name);
    writeFileSync(path, text);
    files.push(path);
    return path;
  };
  const html = write('index.html', reportHtml(record, pictures, replayCommand, options));
  write('timeline.svg', `<?xml version="1.0" encoding="UTF-8"?>\n${pictures.timeline}\n`);
  write('lamport.svg', `<?xml version="1.0" encoding="UTF-8"?>\n${pictures.lamport}\n`);
  write('roles.svg', `<?xml version="1.0" encoding="UTF-8"?>\n${pictures.roles}\n`);
  write('record.json', JSON.stringify(record) + '\n');
  return { html, files };
}
