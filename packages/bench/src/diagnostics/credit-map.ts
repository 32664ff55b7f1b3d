/**
 * The per-token credit map of From r to Q* (Rafailov et al., arXiv 2404.12358) as a report: one
 * row per answer (chosen, then rejected, of each pair), one cell per token coloured by its credit
 * beta log(pi/pi_ref) (blue above 0, red below, white at 0), with the token's text, the credit sum
 * and the sequence implicit reward at the row's end. The computation is the trainer's
 * (`creditMapOfRun`); this draws it.
 */
import type { CreditMap } from '@policy-lab/trainer';
import { page } from '../report/diagnostics-html.js';
import { escapeHtml } from '../report/svg.js';

const CELL = 22;
const LABEL = 150;
const TAIL = 190;

/** A diverging colour for a credit scaled by the map's largest |credit|: red (-1), white (0), blue (+1). */
export function creditColour(credit: number, scale: number): string {
  const x = scale > 0 ? Math.max(-1, Math.min(1, credit / scale)) : 0;
  const fade = (c: number) => Math.round(255 - (255 - c) * Math.abs(x));
  return x >= 0 ? `rgb(${fade(33)},${fade(102)},${fade(172)})` : `rgb(${fade(178)},${fade(24)},${fade(43)})`;
}

/** The heatmap as inline SVG. */
export function creditMapSvg(map: CreditMap): string {
  const scale = Math.max(0, ...map.answers.flatMap((a) => a.credits.map(Math.abs)));
  const longest = Math.max(1, ...map.answers.map((a) => a.tokens.length));
  const width = LABEL + longest * CELL + TAIL;
  const height = (map.answers.length + 1) * CELL;
  const rows = map.answers.map((answer, r) => {
    const y = (r + 1) * CELL;
    const label = `<text x="0" y="${y + 15}" font-size="11">${escapeHtml(`${answer.task} ${answer.role} (${answer.reward.toFixed(2)})`)}</text>`;
    const cells = answer.tokens.map((token, k) => {
      const x = LABEL + k * CELL;
      const credit = answer.credits[k] as number;
      return `<g><title>${escapeHtml(`${JSON.stringify(token)}: ${credit.toFixed(4)}`)}</title><rect x="${x}" y="${y}" width="${CELL - 1}" height="${CELL - 1}" fill="${creditColour(credit, scale)}"/><text x="${x + CELL / 2}" y="${y + 15}" font-size="12" text-anchor="middle" font-family="monospace">${escapeHtml(token === '' ? '∎' : token)}</text></g>`;
    });
    const tail = `<text x="${LABEL + longest * CELL + 8}" y="${y + 15}" font-size="11">${escapeHtml(`sum ${answer.creditSum.toFixed(4)} = r ${answer.implicitReward.toFixed(4)}`)}</text>`;
    return label + cells.join('') + tail;
  });
  const header = `<text x="0" y="15" font-size="11">task, role (reward)</text><text x="${LABEL}" y="15" font-size="11">tokens coloured by beta log(pi/pi_ref): blue +, red -, |max| ${scale.toFixed(4)}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${header}${rows.join('')}</svg>`;
}

export async function renderCreditMapHtml(document: CreditMap & { run: string }): Promise<string> {
  const lines = [
    `run ${document.run}: ${document.method} on ${document.env}, step ${document.step}, beta ${document.beta}`,
    `${document.answers.length} answers; each row's credits sum to its sequence implicit reward (largest difference ${document.maxSumError.toExponential(2)})`,
    `mean implicit reward: chosen ${document.chosenReward.toFixed(4)}, rejected ${document.rejectedReward.toFixed(4)}`,
  ];
  return page('policy-lab credit map', lines, [creditMapSvg(document)], document);
}
