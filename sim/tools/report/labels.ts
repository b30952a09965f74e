/**
 * Label placement for the report's pictures: a label is drawn only where its box is free, so no two
 * labels of a picture overlap and none passes the picture's edge (the browser check in layout.ts
 * proves it on the rendered page). Boxes are estimated from the text's length, on the wide side
 * (`charWidthEm`), so the estimate holds for the sans-serif fonts of common machines (DejaVu Sans,
 * Liberation Sans, Arial): a label that is skipped has its text in a tooltip or a table anyway.
 *
 * Pure (no DOM): the web UI draws the same pictures.
 */

/** Width of one character as a fraction of the font size, on the wide side (DejaVu Sans averages ~0.6). */
export const charWidthEm = 0.66;
/** The same for bold text. */
export const charWidthEmBold = 0.74;
/** Space kept around every label (px). */
export const labelPaddingPx = 1;

export interface Box {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

export type Anchor = 'start' | 'middle' | 'end';

/** The estimated width of `text` (px), on the wide side. */
export function textWidth(text: string, fontPx: number, bold = false): number {
  return [...text].length * fontPx * (bold ? charWidthEmBold : charWidthEm);
}

/** The estimated box of `text` drawn at (x, y) (y is the baseline, as in SVG). */
export function textBox(x: number, y: number, text: string, fontPx: number, anchor: Anchor, bold = false): Box {
  const w = textWidth(text, fontPx, bold);
  const left = anchor === 'start' ? x : anchor === 'middle' ? x - w / 2 : x - w;
  return {
    left: left - labelPaddingPx,
    right: left + w + labelPaddingPx,
    top: y - fontPx * 1.0 - labelPaddingPx,
    bottom: y + fontPx * 0.3 + labelPaddingPx,
  };
}

export function boxesMeet(a: Box, b: Box): boolean {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}

/** The boxes taken so far in one picture of `width` × `height`. */
export class LabelLayout {
  private readonly boxes: Box[] = [];
  constructor(
    readonly width: number,
    readonly height: number,
  ) {}

  /** True when `box` lies inside the picture and meets no label placed so far. */
  free(box: Box): boolean {
    if (box.left < 0 || box.top < 0 || box.right > this.width || box.bottom > this.height) return false;
    return !this.boxes.some((b) => boxesMeet(b, box));
  }

  /** Takes `box` whether or not it is free (a label that must show, placed before the optional ones). */
  take(box: Box): void {
    this.boxes.push(box);
  }

  /** Takes `box` and returns true when it is free; else leaves the layout alone and returns false. */
  maybeTake(box: Box): boolean {
    if (!this.free(box)) return false;
    this.boxes.push(box);
    return true;
  }
}
