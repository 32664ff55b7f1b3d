/**
 * A procedural catalog in WebShop's product schema and synthetic goals built as
 * WebShop builds them: the product's instruction text, "with" its option choices, and a price
 * cap drawn by WebShop's rule. Every word is known by construction, so the reward's noun rule
 * is exact here.
 */
import type { Rng } from '@policy-lab/core';
import type { WebshopGoal, WebshopProduct } from './reward.js';

interface Kind {
  category: string;
  path: string;
  nouns: readonly string[];
  attributes: readonly string[];
  options: Readonly<Record<string, readonly string[]>>;
}

const KINDS: readonly Kind[] = [
  {
    category: 'beauty',
    path: 'beauty › skin care',
    nouns: ['lotion', 'serum', 'cream', 'soap', 'shampoo'],
    attributes: ['tea tree', 'fragrance free', 'natural ingredients', 'long lasting', 'paraben free'],
    options: { size: ['small', 'medium', 'large'], scent: ['lemon', 'mint', 'lavender'] },
  },
  {
    category: 'food',
    path: 'grocery › snacks',
    nouns: ['cookies', 'crackers', 'granola', 'chips', 'tea'],
    attributes: ['gluten free', 'low sugar', 'high protein', 'non gmo', 'keto friendly'],
    options: { flavor: ['vanilla', 'cocoa', 'honey'], amount: ['pack of 6', 'pack of 12'] },
  },
  {
    category: 'fashion',
    path: 'clothing › men',
    nouns: ['shirt', 'jacket', 'hoodie', 'sneakers', 'shorts'],
    attributes: ['machine wash', 'slim fit', 'quick dry', 'button down', 'elastic waist'],
    options: { color: ['black', 'navy', 'grey', 'red'], size: ['small', 'medium', 'large', 'x-large'] },
  },
  {
    category: 'electronics',
    path: 'electronics › accessories',
    nouns: ['charger', 'cable', 'speaker', 'headphones', 'mouse'],
    attributes: ['fast charging', 'wireless', 'noise cancelling', 'usb c', 'water resistant'],
    options: { color: ['black', 'white', 'blue'], length: ['3 ft', '6 ft'] },
  },
  {
    category: 'home',
    path: 'home › kitchen',
    nouns: ['mug', 'pillow', 'blanket', 'lamp', 'towel'],
    attributes: ['dishwasher safe', 'easy clean', 'non slip', 'eco friendly', 'heavy duty'],
    options: { color: ['white', 'beige', 'green'], size: ['standard', 'queen', 'king'] },
  },
];

const BRANDS = ['acme', 'zenith', 'nova', 'orbit', 'maple', 'summit'] as const;
/** Words used as adjectives in titles (never nouns for the reward's title score). */
export const ADJECTIVES: ReadonlySet<string> = new Set([
  'premium',
  'classic',
  'everyday',
  'deluxe',
  ...BRANDS,
  ...KINDS.flatMap((k) => k.attributes.flatMap((a) => a.split(' '))),
]);
const STYLE = ['premium', 'classic', 'everyday', 'deluxe'] as const;

export interface CatalogProduct extends WebshopProduct {
  asin: string;
  category: string;
  /** Option groups: name -> values (lowercase, as WebShop stores them). */
  options: Readonly<Record<string, readonly string[]>>;
  /** The listed price ("$x" or "$a to $b") and the hidden price the reward checks. */
  pricing: string;
  price: number;
}

export interface WebshopTask {
  goal: WebshopGoal & { asin: string; instruction: string };
}

function asin(rng: Rng): string {
  const chars = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789';
  return `B0${Array.from({ length: 8 }, () => rng.pick([...chars])).join('')}`;
}

export function buildCatalog(count: number, rng: Rng): CatalogProduct[] {
  const products: CatalogProduct[] = [];
  const ids = new Set<string>();
  for (let k = 0; k < count; k++) {
    const kind = KINDS[k % KINDS.length] as Kind;
    const noun = rng.pick(kind.nouns);
    const attributes = rng.shuffle(kind.attributes).slice(0, 3);
    const brand = rng.pick(BRANDS);
    const name = `${brand} ${rng.pick(STYLE)} ${attributes[0]} ${noun}`;
    let id = asin(rng);
    while (ids.has(id)) id = asin(rng);
    ids.add(id);
    const low = rng.int(3, 60);
    const range = rng.next() < 0.3;
    const high = low + rng.int(2, 20);
    products.push({
      asin: id,
      category: kind.category,
      Title: name,
      name,
      query: noun,
      product_category: `${kind.path} › ${noun}`,
      BulletPoints: [`${attributes[1]} ${noun}`, `made by ${brand}`],
      Description: `a ${noun} that is ${attributes.join(', ')}.`,
      Attributes: attributes,
      options: kind.options,
      pricing: range ? `$${low}.99 to $${high}.99` : `$${low}.99`,
      // The hidden price: uniform in a listed range, as WebShop samples it at load time.
      price: range ? Math.round((low + 0.99 + rng.next() * (high - low)) * 100) / 100 : low + 0.99,
    });
  }
  return products;
}

/** WebShop's cap: 2 of the first 4 of 10, 20, ..., 990 above the price, the larger one; none (1e6) if fewer than 2. */
export function priceUpper(price: number, rng: Rng): number {
  const above = Array.from({ length: 99 }, (_, i) => 10 * (i + 1))
    .filter((v) => v > price)
    .slice(0, 4);
  if (above.length < 2) return 1e6;
  const [a, b] = rng.shuffle(above).slice(0, 2) as [number, number];
  return Math.max(a, b);
}

export function goalFor(product: CatalogProduct, attributesPerGoal: number, optionGroups: number, rng: Rng): WebshopTask {
  const attributes = product.Attributes.slice(0, attributesPerGoal);
  const names = Object.keys(product.options).sort().slice(0, optionGroups);
  const goalOptions = Object.fromEntries(names.map((n) => [n, rng.pick(product.options[n] as readonly string[])]));
  const cap = priceUpper(product.price, rng);
  const withOptions = names.length ? ` with ${names.map((n) => `${n}: ${goalOptions[n]}`).join(', and ')}` : '';
  const priceText = cap < 1e6 ? `, and price lower than ${cap.toFixed(2)} dollars` : '';
  const instruction = `i need a ${product.query} that is ${attributes.join(' and ')}${withOptions}${priceText}`;
  return {
    goal: {
      asin: product.asin,
      instruction,
      attributes,
      goal_options: goalOptions,
      price_upper: cap,
      query: product.query,
      product_category: product.product_category,
      name: product.name,
    },
  };
}
