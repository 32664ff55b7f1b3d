/**
 * WebShop's reward, exactly as `web_agent_site/engine/goal.py::get_reward` computes it,
 * taking WebShop's own field names so it can be checked against its tests:
 *   r = r_type x (N_att + N_opt + 1[price <= price_upper]) / (|U_att| + |U_opt| + 1).
 * Two stand-ins, documented: spaCy's NOUN/PROPN tags are replaced by a deterministic noun
 * rule, and the colour list is ours (the original's order decides substring quirks).
 */
import { tokenSetRatio } from '@policy-lab/rewards';

export interface WebshopGoal {
  attributes: readonly string[];
  /** Human goals: a list of values; synthetic goals: { name: value }. */
  goal_options: readonly string[] | Readonly<Record<string, string>>;
  price_upper: number;
  query: string;
  product_category: string;
  name: string;
}

export interface WebshopProduct {
  Title: string;
  BulletPoints: readonly string[] | string;
  Description: string;
  Attributes: readonly string[];
  query: string;
  product_category: string;
  name: string;
}

export interface WebshopRewardInput {
  goal: WebshopGoal;
  product: WebshopProduct;
  /** The values of the options the agent clicked (session["options"]). */
  selectedOptions: readonly string[] | Readonly<Record<string, string>>;
  /** The product's hidden price. */
  price: number;
}

export interface WebshopRewardResult {
  total: number;
  /** r_att = N_att / |U_att|. */
  attribute: number;
  /** r_option = N_opt / |U_opt|, null when the goal has no options. */
  option: number | null;
  price: number;
  type: number;
}

/** Colour words in a fixed order; the first that is a substring of an option replaces it ([unverified]: the original's list). */
export const COLOR_SET = [
  'alabaster',
  'apricot',
  'aqua',
  'ash',
  'beige',
  'black',
  'blue',
  'blush',
  'bronze',
  'brown',
  'burgundy',
  'charcoal',
  'coffee',
  'copper',
  'coral',
  'cream',
  'gold',
  'gray',
  'green',
  'grey',
  'ivory',
  'khaki',
  'lavender',
  'navy',
  'nude',
  'orange',
  'pink',
  'purple',
  'red',
  'rose',
  'silver',
  'tan',
  'teal',
  'white',
  'wine',
  'yellow',
] as const;

export function normalizeColor(option: string): string {
  for (const color of COLOR_SET) if (option.includes(color)) return color;
  return option;
}

/** A synthetic goal option is Python's str((name, value)); token_set_ratio sees its two tokens. */
function goalOptionTexts(options: WebshopGoal['goal_options']): string[] {
  if (Array.isArray(options)) return (options as readonly string[]).map(normalizeColor);
  // normalize_color on a tuple tests membership: a value that is exactly a colour becomes that colour.
  return Object.entries(options as Record<string, string>).map(([name, value]) =>
    (COLOR_SET as readonly string[]).includes(value) ? value : `('${name}', '${value}')`,
  );
}

function selectedTexts(options: WebshopRewardInput['selectedOptions']): string[] {
  return (Array.isArray(options) ? (options as readonly string[]) : Object.values(options as Record<string, string>)).map(
    normalizeColor,
  );
}

/** get_option_reward: (r_option or null, N_opt). */
export function optionReward(purchased: readonly string[], goal: readonly string[]): { rOption: number | null; matches: number } {
  let matches = 0;
  for (const g of goal) if (purchased.some((p) => tokenSetRatio(p, g) > 85)) matches += 1;
  return { rOption: goal.length > 0 ? matches / goal.length : null, matches };
}

export function attributeMatches(goal: WebshopGoal, product: WebshopProduct): number {
  const attributes = product.Attributes.length > 0 ? product.Attributes : ['DUMMY_ATTR'];
  // Python's ' '.join over a string joins its characters: a string never matches here.
  const bullets = (typeof product.BulletPoints === 'string' ? Array.from(product.BulletPoints) : product.BulletPoints)
    .join(' ')
    .toLowerCase();
  const title = product.Title.toLowerCase();
  const description = product.Description.toLowerCase();
  let matches = 0;
  for (const g of goal.attributes) {
    if (attributes.some((p) => tokenSetRatio(p, g) > 85)) matches += 1;
    else if (title.includes(g) || bullets.includes(g) || description.includes(g)) matches += 1;
  }
  return matches;
}

const NOT_NOUNS = new Set(
  'a an the and or of for with in on to by from that this is are be it its as at i need want looking buy am some any my me pack size color price lower than dollars under over x'.split(
    ' ',
  ),
);

/**
 * Stand-in for spaCy's NOUN/PROPN tokens: lowercased alphabetic words of 3+ letters that are
 * not function words, colours or known adjectives. Deterministic, and exact on the generated
 * catalog (its nouns are known by construction).
 */
export function nounsOf(text: string, adjectives: ReadonlySet<string> = new Set()): Set<string> {
  const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
  return new Set(
    words.filter(
      (w) => w.length >= 3 && !NOT_NOUNS.has(w) && !(COLOR_SET as readonly string[]).includes(w) && !adjectives.has(w),
    ),
  );
}

export function typeReward(goal: WebshopGoal, product: WebshopProduct, adjectives?: ReadonlySet<string>): number {
  const queryMatch = product.query.trim().toLowerCase() === goal.query.trim().toLowerCase();
  const split = (c: string) => new Set(c.split('›').map((s) => s.trim()));
  const productCategories = split(product.product_category);
  const common = [...split(goal.product_category)].filter((c) => productCategories.has(c)).length;
  const categoryMatch = common >= 2;
  const goalNouns = nounsOf(goal.name, adjectives);
  const productNouns = nounsOf(product.name, adjectives);
  const titleScore = goalNouns.size === 0 ? 0.2 : [...goalNouns].filter((n) => productNouns.has(n)).length / goalNouns.size;
  let r = 1;
  if (!(queryMatch || categoryMatch || titleScore > 0.2)) r = 0.5;
  if (titleScore < 0.1) r = 0.1;
  if (titleScore === 0) r = 0;
  return r;
}

export function webshopReward(input: WebshopRewardInput, adjectives?: ReadonlySet<string>): WebshopRewardResult {
  const { goal, product } = input;
  const nAtt = attributeMatches(goal, product);
  const goalOptions = goalOptionTexts(goal.goal_options);
  const { rOption, matches: nOpt } = optionReward(selectedTexts(input.selectedOptions), goalOptions);
  const price = input.price <= goal.price_upper ? 1 : 0;
  const type = typeReward(goal, product, adjectives);
  const total = (type * (nAtt + nOpt + price)) / (goal.attributes.length + goalOptions.length + 1);
  return { total, attribute: goal.attributes.length ? nAtt / goal.attributes.length : 0, option: rOption, price, type };
}
