/**
 * A synthetic language pair, known by construction: a small real Spanish vocabulary and a
 * seeded "conlang" target with its own word order, so that a dictionary tool is useful and a
 * correct translation is checkable.
 *
 * Source (Spanish order):  DET N1 [A1] V [DET N2 [A2]]
 * Target:                  [A1'] N1' [A2'] N2'+"ka" V'      (adjective first, object marked
 *                                                          with the suffix -ka, verb last)
 */
import { Rng } from '@policy-lab/core';

export interface Lexicon {
  nouns: readonly { spa: string; det: 'el' | 'la'; guc: string }[];
  adjectives: readonly { spa: string; guc: string }[];
  verbs: readonly { spa: string; guc: string }[];
}

export interface DictionaryEntry {
  spa: string;
  guc: string;
}

export interface SentencePair {
  source: string;
  reference: string;
  /** Content words of the source in order (what an expert looks up). */
  contentWords: readonly string[];
}

const NOUNS = [
  ['perro', 'el'],
  ['gato', 'el'],
  ['niño', 'el'],
  ['pescador', 'el'],
  ['caballo', 'el'],
  ['pájaro', 'el'],
  ['hombre', 'el'],
  ['río', 'el'],
  ['mujer', 'la'],
  ['casa', 'la'],
  ['manzana', 'la'],
  ['montaña', 'la'],
  ['cabra', 'la'],
  ['lluvia', 'la'],
  ['flor', 'la'],
  ['olla', 'la'],
  ['arena', 'la'],
  ['luna', 'la'],
  ['estrella', 'la'],
  ['red', 'la'],
  ['árbol', 'el'],
  ['pan', 'el'],
  ['sol', 'el'],
  ['mar', 'el'],
  ['lobo', 'el'],
  ['toro', 'el'],
  ['burro', 'el'],
  ['camino', 'el'],
  ['fuego', 'el'],
  ['viento', 'el'],
  ['maestro', 'el'],
  ['hermano', 'el'],
  ['abuelo', 'el'],
  ['zorro', 'el'],
  ['cerdo', 'el'],
  ['pozo', 'el'],
  ['barco', 'el'],
  ['campo', 'el'],
  ['libro', 'el'],
  ['queso', 'el'],
  ['vaca', 'la'],
  ['oveja', 'la'],
  ['abuela', 'la'],
  ['hermana', 'la'],
  ['maestra', 'la'],
  ['puerta', 'la'],
  ['mesa', 'la'],
  ['silla', 'la'],
  ['nube', 'la'],
  ['piedra', 'la'],
  ['playa', 'la'],
  ['hoja', 'la'],
  ['leche', 'la'],
  ['tortuga', 'la'],
  ['serpiente', 'la'],
  ['ventana', 'la'],
  ['carta', 'la'],
  ['cama', 'la'],
  ['isla', 'la'],
  ['fruta', 'la'],
] as const;
const ADJECTIVES = ['grande', 'pequeño', 'rojo', 'viejo', 'nuevo', 'rápido', 'blanco', 'alegre', 'oscuro', 'dulce'] as const;
const VERBS = [
  'come',
  've',
  'busca',
  'lleva',
  'tiene',
  'sigue',
  'llama',
  'quiere',
  'encuentra',
  'cuida',
  'mira',
  'escucha',
  'ayuda',
  'toca',
  'pinta',
  'visita',
  'espera',
  'salva',
  'empuja',
  'abraza',
] as const;

const CONSONANTS = ['p', 't', 'k', 'm', 'n', 's', 'j', 'w', 'l', 'r', 'ch', 'sh'] as const;
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ü', 'aa', 'ii'] as const;

export interface LexiconSize {
  nouns: number;
  adjectives: number;
  verbs: number;
}

/** The target words: distinct 2-3 syllable words from a fixed seed (the language never changes between runs). */
export function buildLexicon(size: LexiconSize, seed = 7): Lexicon {
  const rng = Rng.seeded(seed).split('translate/lexicon');
  const used = new Set<string>();
  const word = (): string => {
    for (;;) {
      const syllables = rng.int(2, 3);
      let w = '';
      for (let i = 0; i < syllables; i++) w += rng.pick(CONSONANTS) + rng.pick(VOWELS);
      // No target word may end in the object suffix, so that "-ka" is unambiguous.
      if (!used.has(w) && !w.endsWith('ka')) {
        used.add(w);
        return w;
      }
    }
  };
  return {
    nouns: NOUNS.slice(0, size.nouns).map(([spa, det]) => ({ spa, det, guc: word() })),
    adjectives: ADJECTIVES.slice(0, size.adjectives).map((spa) => ({ spa, guc: word() })),
    verbs: VERBS.slice(0, size.verbs).map((spa) => ({ spa, guc: word() })),
  };
}

export const MAX_LEXICON: LexiconSize = { nouns: NOUNS.length, adjectives: ADJECTIVES.length, verbs: VERBS.length };

/**
 * The dictionary the tool searches: every word, plus one "noun adjective" phrase per noun
 * (multi-word entries, as the real dictionary has), sorted by the Spanish side.
 */
export function buildDictionary(lexicon: Lexicon): DictionaryEntry[] {
  const entries: DictionaryEntry[] = [
    ...lexicon.nouns.map(({ spa, guc }) => ({ spa, guc })),
    ...lexicon.adjectives.map(({ spa, guc }) => ({ spa, guc })),
    ...lexicon.verbs.map(({ spa, guc }) => ({ spa, guc })),
  ];
  if (lexicon.adjectives.length > 0) {
    lexicon.nouns.forEach((noun, i) => {
      const adjective = lexicon.adjectives[i % lexicon.adjectives.length] as Lexicon['adjectives'][number];
      entries.push({ spa: `${noun.spa} ${adjective.spa}`, guc: `${adjective.guc} ${noun.guc}` });
    });
  }
  return entries.sort((a, b) => (a.spa < b.spa ? -1 : a.spa > b.spa ? 1 : 0));
}

export interface GrammarOptions {
  /** Probability that a noun phrase carries an adjective. */
  adjectiveRate: number;
  /** Probability that the sentence has an object. */
  objectRate: number;
}

export function drawSentence(lexicon: Lexicon, grammar: GrammarOptions, rng: Rng): SentencePair {
  const phrase = () => {
    const noun = rng.pick(lexicon.nouns);
    const adjective =
      lexicon.adjectives.length > 0 && rng.next() < grammar.adjectiveRate ? rng.pick(lexicon.adjectives) : undefined;
    return { noun, adjective };
  };
  const subject = phrase();
  const verb = rng.pick(lexicon.verbs);
  const object = rng.next() < grammar.objectRate ? phrase() : undefined;
  const source = [subject.noun.det, subject.noun.spa, subject.adjective?.spa, verb.spa];
  const content = [subject.noun.spa, subject.adjective?.spa, verb.spa];
  const target = [subject.adjective?.guc, subject.noun.guc];
  if (object) {
    source.push(object.noun.det, object.noun.spa, object.adjective?.spa);
    content.push(object.noun.spa, object.adjective?.spa);
    target.push(object.adjective?.guc, `${object.noun.guc}ka`);
  }
  target.push(verb.guc);
  const defined = (words: (string | undefined)[]) => words.filter((w): w is string => w !== undefined);
  return { source: defined(source).join(' '), reference: defined(target).join(' '), contentWords: defined(content) };
}
