/**
 * The report's layout check, run in the browser by `conclave sim report --check` and by the report
 * test: every label (`<text>`) of every picture lies inside its SVG (else it is clipped on screen) and
 * no two labels of one picture intersect (else neither can be read). It reads the browser's own
 * geometry of the rendered page (getBoundingClientRect), so it holds whatever the fonts of the machine:
 * a pixel comparison with a stored screenshot would break with every Chromium or font update, and
 * would not say what broke; this check fails exactly on clipping and overlap, and names the labels.
 *
 * A label hidden on purpose (no text, zero size) is ignored; boxes touching by less than
 * `layoutTolerancePx` do not count (antialiasing, rounding of glyph boxes).
 */

/** How far two boxes may overlap, or a label may pass its SVG's edge, before it counts (px). */
export const layoutTolerancePx = 0.5;

/** Problems listed at most (a regression usually breaks many labels at once). */
export const layoutProblemsMax = 20;

/**
 * A JavaScript expression for the page (Runtime.evaluate): an array of problems, `clipped: TEXT` or
 * `overlap: TEXT / TEXT`, empty when the layout is clean.
 */
export const layoutProbe = `(() => {
  const tol = ${layoutTolerancePx};
  const out = [];
  const say = (s) => { if (out.length < ${layoutProblemsMax}) out.push(s); };
  for (const svg of document.querySelectorAll('svg')) {
    const b = svg.getBoundingClientRect();
    const labels = [];
    for (const t of svg.querySelectorAll('text')) {
      const r = t.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || t.textContent.trim() === '') continue;
      if (r.left < b.left - tol || r.right > b.right + tol || r.top < b.top - tol || r.bottom > b.bottom + tol)
        say('clipped: ' + t.textContent);
      labels.push([t.textContent, r]);
    }
    labels.sort((p, q) => p[1].left - q[1].left);
    for (let i = 0; i < labels.length; i++) {
      const [a, ra] = labels[i];
      for (let j = i + 1; j < labels.length && labels[j][1].left < ra.right - tol; j++) {
        const [c, rc] = labels[j];
        if (Math.min(ra.right, rc.right) - Math.max(ra.left, rc.left) > tol &&
            Math.min(ra.bottom, rc.bottom) - Math.max(ra.top, rc.top) > tol)
          say('overlap: ' + a + ' / ' + c);
      }
    }
  }
  return out;
})()`;
