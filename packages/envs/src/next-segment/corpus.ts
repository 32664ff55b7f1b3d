/**
 * The next-segment environment's text: a synthetic corpus from a seeded grammar (written for
 * this package, MIT like the rest of it), or a user's own text cut into sentences.
 *
 * The grammar makes "pre-training data" whose next sentence is partly learnable: each
 * document is about one animal and states five facts in a random order, then closes. Three
 * facts are world knowledge that every document repeats (where the animal lives, what it eats,
 * what it says), two are free (its colour, which animal it plays with). A policy that has read
 * the corpus can name the animal, the remaining kinds of fact and the known answers; which fact
 * comes next and the free values stay uncertain, so no policy solves every task.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, UsageError } from '@policy-lab/core';

export interface Animal {
  name: string;
  home: string;
  food: string;
  sound: string;
}

export const ANIMALS: readonly Animal[] = [
  { name: 'fox', home: 'wood', food: 'mice', sound: 'yip' },
  { name: 'owl', home: 'barn', food: 'moths', sound: 'hoot' },
  { name: 'cow', home: 'field', food: 'grass', sound: 'moo' },
  { name: 'duck', home: 'pond', food: 'weeds', sound: 'quack' },
  { name: 'dog', home: 'house', food: 'bones', sound: 'woof' },
  { name: 'cat', home: 'shed', food: 'fish', sound: 'mew' },
  { name: 'bee', home: 'hive', food: 'nectar', sound: 'buzz' },
  { name: 'frog', home: 'bog', food: 'flies', sound: 'croak' },
  { name: 'goat', home: 'hill', food: 'thistles', sound: 'bleat' },
  { name: 'pig', home: 'sty', food: 'apples', sound: 'oink' },
  { name: 'horse', home: 'stable', food: 'oats', sound: 'neigh' },
  { name: 'lion', home: 'plain', food: 'meat', sound: 'roar' },
  { name: 'wolf', home: 'forest', food: 'deer', sound: 'howl' },
  { name: 'crow', home: 'tree', food: 'seeds', sound: 'caw' },
  { name: 'sheep', home: 'meadow', food: 'clover', sound: 'baa' },
  { name: 'mouse', home: 'hole', food: 'cheese', sound: 'squeak' },
];

export const COLOURS = ['red', 'brown', 'grey', 'white', 'black', 'gold', 'green', 'blue'] as const;

/** Sentence-level segments, as the RLPT summary describes its segment granularity. */
export type Document = readonly string[];

/** The grammar's sentences about `animal`: its five facts, given a colour and a friend. */
function facts(animal: Animal, colour: string, friend: Animal): string[] {
  return [
    `the ${animal.name} lives in the ${animal.home}.`,
    `the ${animal.name} eats ${animal.food}.`,
    `the ${animal.name} says ${animal.sound}.`,
    `the ${animal.name} is ${colour}.`,
    `the ${animal.name} plays with the ${friend.name}.`,
  ];
}
const opening = (animal: Animal) => `this is about the ${animal.name}.`;
const closing = (animal: Animal) => `that is all about the ${animal.name}.`;

/** One document: an opening, five facts in a random order, a closing. */
export function drawDocument(rng: Rng): Document {
  const animal = rng.pick(ANIMALS);
  const friend = rng.pick(ANIMALS.filter((a) => a !== animal));
  return [opening(animal), ...rng.shuffle(facts(animal, rng.pick(COLOURS), friend)), closing(animal)];
}

/** Every sentence the grammar can write (for sizes and the alphabet without building a corpus). */
export function syntheticSentences(): string[] {
  return ANIMALS.flatMap((animal) => [
    opening(animal),
    ...COLOURS.flatMap((colour) => ANIMALS.filter((a) => a !== animal).flatMap((friend) => facts(animal, colour, friend))),
    closing(animal),
  ]);
}

export function syntheticCorpus(documents: number, seed: number): Document[] {
  const rng = Rng.seeded(seed).split('next-segment/corpus');
  return Array.from({ length: documents }, () => drawDocument(rng));
}

/**
 * A user's text as documents of sentences: blank lines separate documents, a sentence ends at
 * `.`, `!` or `?` followed by white space (or at the end of a paragraph); white space collapses.
 * A linear scan, no backtracking expression, so a long file costs its length.
 */
export function segmentText(text: string): Document[] {
  const documents: string[][] = [];
  for (const paragraph of text.split(/\r?\n[ \t]*\r?\n/)) {
    const flat = paragraph.replace(/\s+/g, ' ').trim();
    if (flat === '') continue;
    const sentences: string[] = [];
    let start = 0;
    for (let i = 0; i < flat.length; i++) {
      const ch = flat[i];
      if ((ch === '.' || ch === '!' || ch === '?') && (i + 1 === flat.length || flat[i + 1] === ' ')) {
        sentences.push(flat.slice(start, i + 1).trim());
        start = i + 1;
      }
    }
    const rest = flat.slice(start).trim();
    if (rest !== '') sentences.push(rest);
    documents.push(sentences.filter((s) => s.length > 0));
  }
  return documents.filter((d) => d.length > 0);
}

/** `--data`: a text file, or a folder holding `corpus.txt` (the form `bench train --data <dir>` passes on). */
export function loadUserText(path: string): { file: string; documents: Document[] } {
  let file = path;
  try {
    if (statSync(path).isDirectory()) file = join(path, 'corpus.txt');
    return { file, documents: segmentText(readFileSync(file, 'utf8')) };
  } catch (error) {
    throw new UsageError(
      `next-segment: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}); --data takes a text file or a folder with corpus.txt`,
    );
  }
}
