/**
 * BM25 over one document per product (title + description + first bullet + option text, as
 * WebShop indexes them), with Pyserini's defaults k1 = 0.9, b = 0.4. Ties keep catalog order.
 */
import type { CatalogProduct } from './catalog.js';

const tokens = (text: string) => text.toLowerCase().match(/[a-z0-9]+/g) ?? [];

export function documentOf(p: CatalogProduct): string {
  const bullets = typeof p.BulletPoints === 'string' ? p.BulletPoints : (p.BulletPoints[0] ?? '');
  const options = Object.entries(p.options)
    .map(([name, values]) => `${name}: ${values.join(', ')}`)
    .join(' and ');
  return `${p.Title} ${p.Description} ${bullets} ${options}`;
}

export class Bm25 {
  private readonly docs: string[][];
  private readonly df = new Map<string, number>();
  private readonly avgLength: number;

  constructor(
    private readonly products: readonly CatalogProduct[],
    private readonly k1 = 0.9,
    private readonly b = 0.4,
  ) {
    this.docs = products.map((p) => tokens(documentOf(p)));
    for (const doc of this.docs) for (const t of new Set(doc)) this.df.set(t, (this.df.get(t) ?? 0) + 1);
    this.avgLength = this.docs.reduce((s, d) => s + d.length, 0) / Math.max(1, this.docs.length);
  }

  search(query: string, limit: number): CatalogProduct[] {
    const terms = tokens(query);
    const n = this.docs.length;
    const scored = this.docs.map((doc, index) => {
      let score = 0;
      for (const term of terms) {
        const tf = doc.filter((t) => t === term).length;
        if (tf === 0) continue;
        const df = this.df.get(term) ?? 0;
        const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
        score += (idf * tf * (this.k1 + 1)) / (tf + this.k1 * (1 - this.b + (this.b * doc.length) / this.avgLength));
      }
      return { index, score };
    });
    return scored
      .filter((s) => s.score > 0)
      .sort((x, y) => y.score - x.score || x.index - y.index)
      .slice(0, limit)
      .map((s) => this.products[s.index] as CatalogProduct);
  }
}
