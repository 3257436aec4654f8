/**
 * @module An in-memory ordered map (a B+tree with linked leaves): the engine's one sorted
 * structure, shared by primary-key order, ordered secondary indexes and time series.
 */
import { assert } from "./assert.ts";

/** Total order on keys: negative, zero or positive as `a` sorts before, with or after `b`. */
export type Comparator<K> = (a: K, b: K) => number;

/** Bounds for ordered iteration. An `undefined` bound means unbounded on that side. */
export interface Range<K> {
  /** Lower bound; inclusive unless `lowerExclusive`. */
  lower?: K;
  lowerExclusive?: boolean;
  /** Upper bound; inclusive unless `upperExclusive`. */
  upper?: K;
  upperExclusive?: boolean;
  /** Iterate in descending key order (the bounds keep their meaning). */
  reverse?: boolean;
}

/**
 * A map kept in key order. Iterators and `forEach` locate their start when first stepped, so they
 * see every mutation made before that. A structural mutation (inserting or deleting a key, or
 * `clear`) while an iteration is under way invalidates it: its next step throws. Replacing the
 * value of an existing key is not structural and is allowed mid-iteration.
 */
export interface OrderedMap<K, V> {
  readonly size: number;
  get(key: K): V | undefined;
  has(key: K): boolean;
  /** Inserts `key`, or replaces its value if present. */
  set(key: K, value: V): void;
  /** Removes `key`; returns whether it was present. */
  del(key: K): boolean;
  clear(): void;
  first(): [K, V] | undefined;
  last(): [K, V] | undefined;
  /** The greatest key, without allocating an entry. */
  lastKey(): K | undefined;
  /** Entries in ascending key order, within optional bounds. `reverse` iterates descending. */
  entries(range?: Range<K>): IterableIterator<[K, V]>;
  keys(range?: Range<K>): IterableIterator<K>;
  values(range?: Range<K>): IterableIterator<V>;
  /** Visits entries in order until the callback returns false. Faster than entries(). */
  forEach(fn: Visitor<K, V>, range?: Range<K>): void;
}

/** A `forEach` callback: returning `false` stops the walk; returning nothing continues it. */
// eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- statement bodies must fit
export type Visitor<K, V> = (value: V, key: K) => boolean | void;

/** Creates an empty {@link OrderedMap} ordered by `compare`. */
export function createOrderedMap<K, V>(compare: Comparator<K>): OrderedMap<K, V> {
  return new Tree<K, V>(compare);
}

/**
 * Verifies the B+tree's structural invariants (balance, occupancy, key order, separators, leaf
 * links, size); throws an AssertionError on the first violation. O(n): meant for tests.
 */
export function checkOrderedMapInvariants<K, V>(map: OrderedMap<K, V>): void {
  assert(map instanceof Tree, "map was not made by createOrderedMap");
  const tree = map as Tree<K, V>;
  const leaves: Leaf<K, V>[] = [];
  const bounds: Bounds<K> = {
    lower: undefined,
    hasLower: false,
    upper: undefined,
    hasUpper: false,
  };
  const count = checkNode(tree, tree.root, bounds, true, leaves);
  assert(count === tree.size, `size ${tree.size} but ${count} entries`);
  checkLeafChain(leaves);
}

/**
 * Maximum keys in a leaf and children in a branch. 64 keeps a node's binary search to six
 * comparisons and its arrays small to shift, while a million entries fit in four levels even at
 * minimum occupancy.
 */
const nodeKeysMax = 64;
/** Minimum occupancy of a non-root node: two nodes just under it still merge into one. */
const nodeKeysMin = nodeKeysMax >> 1;

/** A leaf holds entries in parallel arrays (no per-entry objects) and links to its neighbours. */
class Leaf<K, V> {
  readonly isLeaf = true;
  keys: K[];
  values: V[];
  prev: Leaf<K, V> | null = null;
  next: Leaf<K, V> | null = null;
  constructor(keys: K[], values: V[]) {
    this.keys = keys;
    this.values = values;
  }
}

/**
 * A branch routes by separators: `keys[i]` is greater than every key under `children[i]` and at
 * most every key under `children[i + 1]`. Deletions may leave a separator matching no key; it
 * still routes correctly, so it is left alone.
 */
class Branch<K, V> {
  readonly isLeaf = false;
  keys: K[];
  children: Node<K, V>[];
  constructor(keys: K[], children: Node<K, V>[]) {
    this.keys = keys;
    this.children = children;
  }
}

type Node<K, V> = Leaf<K, V> | Branch<K, V>;

/** Occupancy as the rebalancing rules count it: entries of a leaf, children of a branch. */
function nodeSize<K, V>(node: Node<K, V>): number {
  return node.isLeaf ? node.keys.length : node.children.length;
}

/** Index of `key` in sorted `keys`, or `~insertionPoint` when absent. */
function search<K>(keys: readonly K[], key: K, compare: Comparator<K>): number {
  let lo = 0;
  let hi = keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compare(keys[mid]!, key);
    if (c < 0) lo = mid + 1;
    else if (c > 0) hi = mid - 1;
    else return mid;
  }
  return ~lo;
}

/** The child of a branch whose subtree may hold `key`: the count of separators <= key. */
function childIndex<K>(keys: readonly K[], key: K, compare: Comparator<K>): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(keys[mid]!, key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts in place; unlike `splice`, allocates no result array. */
function insertAt<T>(items: T[], at: number, item: T): void {
  let i = items.length;
  items.push(item);
  for (; i > at; i--) items[i] = items[i - 1]!;
  items[at] = item;
}

/** Removes in place; unlike `splice`, allocates no result array. */
function removeAt<T>(items: T[], at: number): void {
  const last = items.length - 1;
  for (let i = at; i < last; i++) items[i] = items[i + 1]!;
  items.pop();
}

/**
 * The B+tree. Fields are not private because the cursor and the invariant checker in this module
 * read them; the class itself is not exported.
 */
class Tree<K, V> implements OrderedMap<K, V> {
  root: Node<K, V> = new Leaf<K, V>([], []);
  /** Bumped by every structural change, so iterations can detect that they were invalidated. */
  version = 0;
  readonly compare: Comparator<K>;
  #size = 0;
  /** Separator produced by the last split: an out-parameter, so splits allocate no tuple. */
  #splitKey: K | undefined = undefined;

  constructor(compare: Comparator<K>) {
    this.compare = compare;
  }

  get size(): number {
    return this.#size;
  }

  get(key: K): V | undefined {
    const leaf = this.leafFor(key);
    const i = search(leaf.keys, key, this.compare);
    return i >= 0 ? leaf.values[i] : undefined;
  }

  has(key: K): boolean {
    return search(this.leafFor(key).keys, key, this.compare) >= 0;
  }

  set(key: K, value: V): void {
    // A key past the last one (ids, a replayed log, a time series: keys mostly arrive in
    // ascending order) goes at the end of the last leaf, which covers everything after the
    // last separator: no descent comparing at every level. Recovery's inserts in key order
    // spent ~150 ms of a 1M-record open in the descent.
    const last = this.lastLeaf();
    const count = last.keys.length;
    if (count > 0 && count < nodeKeysMax && this.compare(last.keys[count - 1]!, key) < 0) {
      last.keys.push(key);
      last.values.push(value);
      this.#size++;
      this.version++;
      return;
    }
    const right = this.insert(this.root, key, value);
    // The root split: grow the tree by one level, the only way its height increases.
    if (right !== null) this.root = new Branch([this.#splitKey as K], [this.root, right]);
  }

  del(key: K): boolean {
    if (!this.remove(this.root, key)) return false;
    const root = this.root;
    // A root left with one child is a useless level: shrinking here keeps all leaves level.
    if (!root.isLeaf && root.children.length === 1) this.root = root.children[0]!;
    return true;
  }

  clear(): void {
    this.root = new Leaf<K, V>([], []);
    this.#size = 0;
    this.version++;
  }

  first(): [K, V] | undefined {
    let node = this.root;
    while (!node.isLeaf) node = node.children[0]!;
    // Only an empty root leaf is empty; every other leaf holds at least nodeKeysMin entries.
    return node.keys.length === 0 ? undefined : [node.keys[0]!, node.values[0]!];
  }

  last(): [K, V] | undefined {
    let node = this.root;
    while (!node.isLeaf) node = node.children[node.children.length - 1]!;
    const i = node.keys.length - 1;
    return i < 0 ? undefined : [node.keys[i]!, node.values[i]!];
  }

  lastKey(): K | undefined {
    const leaf = this.lastLeaf();
    return leaf.keys[leaf.keys.length - 1];
  }

  /** The leaf holding the greatest keys (the root, while it is a leaf). */
  lastLeaf(): Leaf<K, V> {
    let node = this.root;
    while (!node.isLeaf) node = node.children[node.children.length - 1]!;
    return node;
  }

  entries(range?: Range<K>): IterableIterator<[K, V]> {
    return new RangeIterator(new Cursor(this, range), projectEntry);
  }

  keys(range?: Range<K>): IterableIterator<K> {
    return new RangeIterator(new Cursor(this, range), projectKey);
  }

  values(range?: Range<K>): IterableIterator<V> {
    return new RangeIterator(new Cursor(this, range), projectValue);
  }

  forEach(fn: Visitor<K, V>, range?: Range<K>): void {
    const cursor = new Cursor(this, range);
    const version = this.version;
    const step = cursor.step;
    // Walk whole runs of a leaf: the bound was resolved once per leaf by the cursor.
    for (cursor.start(); cursor.leaf !== null; cursor.settle()) {
      const { keys, values } = cursor.leaf;
      const stop = cursor.stop;
      for (let i = cursor.index; i !== stop; i += step) {
        if (fn(values[i]!, keys[i]!) === false) return;
        assert(this.version === version, "ordered map changed structurally during forEach");
      }
      cursor.index = stop;
    }
  }

  /** The leaf whose key range covers `key`. */
  leafFor(key: K): Leaf<K, V> {
    const compare = this.compare;
    let node = this.root;
    while (!node.isLeaf) node = node.children[childIndex(node.keys, key, compare)]!;
    return node;
  }

  /** Inserts below `node`; returns the new right sibling if `node` split (see #splitKey). */
  private insert(node: Node<K, V>, key: K, value: V): Node<K, V> | null {
    if (node.isLeaf) return this.insertInLeaf(node, key, value);
    const i = childIndex(node.keys, key, this.compare);
    const right = this.insert(node.children[i]!, key, value);
    if (right === null) return null;
    insertAt(node.keys, i, this.#splitKey as K);
    insertAt(node.children, i + 1, right);
    return node.children.length > nodeKeysMax ? this.splitBranch(node) : null;
  }

  private insertInLeaf(leaf: Leaf<K, V>, key: K, value: V): Leaf<K, V> | null {
    const i = search(leaf.keys, key, this.compare);
    if (i >= 0) {
      // Replacing a value leaves the structure alone, so iterations stay valid.
      leaf.values[i] = value;
      return null;
    }
    insertAt(leaf.keys, ~i, key);
    insertAt(leaf.values, ~i, value);
    this.#size++;
    this.version++;
    return leaf.keys.length > nodeKeysMax ? this.splitLeaf(leaf) : null;
  }

  private splitLeaf(leaf: Leaf<K, V>): Leaf<K, V> {
    const right = new Leaf(leaf.keys.splice(nodeKeysMin), leaf.values.splice(nodeKeysMin));
    right.prev = leaf;
    right.next = leaf.next;
    if (leaf.next !== null) leaf.next.prev = right;
    leaf.next = right;
    this.#splitKey = right.keys[0];
    return right;
  }

  private splitBranch(node: Branch<K, V>): Branch<K, V> {
    // nodeKeysMax + 1 children: the left keeps nodeKeysMin, the right takes the rest. The
    // separator between the halves moves up instead of staying in either.
    const right = new Branch(node.keys.splice(nodeKeysMin), node.children.splice(nodeKeysMin));
    this.#splitKey = node.keys.pop();
    return right;
  }

  /** Deletes below `node`, repairing underfull children on the way back up. */
  private remove(node: Node<K, V>, key: K): boolean {
    if (node.isLeaf) {
      const i = search(node.keys, key, this.compare);
      if (i < 0) return false;
      removeAt(node.keys, i);
      removeAt(node.values, i);
      this.#size--;
      this.version++;
      return true;
    }
    const i = childIndex(node.keys, key, this.compare);
    const child = node.children[i]!;
    if (!this.remove(child, key)) return false;
    if (nodeSize(child) < nodeKeysMin) rebalance(node, i);
    return true;
  }
}

/**
 * Restores minimum occupancy of `parent.children[i]` (one below it): borrow from a sibling that
 * can spare entries, else merge with one. Merging shrinks the parent, which its own parent then
 * repairs, so the tree stays balanced however deletions fall.
 */
function rebalance<K, V>(parent: Branch<K, V>, i: number): void {
  const children = parent.children;
  assert(children.length >= 2, "an underfull node always has a sibling");
  const left = i > 0 ? children[i - 1]! : null;
  const right = i + 1 < children.length ? children[i + 1]! : null;
  if (left !== null && nodeSize(left) > nodeKeysMin) borrow(parent, i - 1);
  else if (right !== null && nodeSize(right) > nodeKeysMin) borrow(parent, i);
  else merge(parent, left !== null ? i - 1 : i);
}

/**
 * Evens out `parent.children[i]` and its right sibling. Moving half the difference, not a single
 * entry, keeps a run of deletions from borrowing again on every call.
 */
function borrow<K, V>(parent: Branch<K, V>, i: number): void {
  const left = parent.children[i]!;
  const right = parent.children[i + 1]!;
  const diff = nodeSize(left) - nodeSize(right);
  const count = Math.abs(diff) >> 1;
  assert(count > 0, "borrowing needs a sibling with entries to spare");
  if (left.isLeaf) {
    assert(right.isLeaf, "siblings are at the same depth");
    if (diff > 0) shiftLeafRight(left, right, count);
    else shiftLeafLeft(left, right, count);
    parent.keys[i] = right.keys[0]!;
  } else {
    assert(!right.isLeaf, "siblings are at the same depth");
    if (diff > 0) parent.keys[i] = shiftBranchRight(left, right, count, parent.keys[i]!);
    else parent.keys[i] = shiftBranchLeft(left, right, count, parent.keys[i]!);
  }
}

function shiftLeafRight<K, V>(left: Leaf<K, V>, right: Leaf<K, V>, count: number): void {
  const from = left.keys.length - count;
  right.keys.unshift(...left.keys.splice(from));
  right.values.unshift(...left.values.splice(from));
}

function shiftLeafLeft<K, V>(left: Leaf<K, V>, right: Leaf<K, V>, count: number): void {
  left.keys.push(...right.keys.splice(0, count));
  left.values.push(...right.values.splice(0, count));
}

/** Moves `left`'s last `count` children to `right`; returns the new separator between them. */
function shiftBranchRight<K, V>(
  left: Branch<K, V>,
  right: Branch<K, V>,
  count: number,
  separator: K,
): K {
  // The old separator comes down between the moved children and right's own; the key that
  // separated the moved children from those staying goes up.
  const keys = left.keys.splice(left.keys.length - count);
  const up = keys.shift()!;
  right.keys.unshift(...keys, separator);
  right.children.unshift(...left.children.splice(left.children.length - count));
  return up;
}

/** Moves `right`'s first `count` children to `left`; returns the new separator between them. */
function shiftBranchLeft<K, V>(
  left: Branch<K, V>,
  right: Branch<K, V>,
  count: number,
  separator: K,
): K {
  const keys = right.keys.splice(0, count);
  const up = keys.pop()!;
  left.keys.push(separator, ...keys);
  left.children.push(...right.children.splice(0, count));
  return up;
}

/** Merges `parent.children[i + 1]` into `parent.children[i]` and drops it from `parent`. */
function merge<K, V>(parent: Branch<K, V>, i: number): void {
  const left = parent.children[i]!;
  const right = parent.children[i + 1]!;
  if (left.isLeaf) {
    assert(right.isLeaf, "siblings are at the same depth");
    left.keys.push(...right.keys);
    left.values.push(...right.values);
    left.next = right.next;
    if (right.next !== null) right.next.prev = left;
  } else {
    assert(!right.isLeaf, "siblings are at the same depth");
    left.keys.push(parent.keys[i]!, ...right.keys);
    left.children.push(...right.children);
  }
  assert(nodeSize(left) <= nodeKeysMax, "merged node fits");
  removeAt(parent.keys, i);
  removeAt(parent.children, i + 1);
}

/**
 * A position in the leaf chain, walking one direction within a range. It serves iterators and
 * `forEach`. Per leaf it resolves the far bound once into `stop`, so stepping within a leaf needs
 * no comparisons.
 */
class Cursor<K, V> {
  readonly tree: Tree<K, V>;
  readonly range: Range<K> | undefined;
  /** +1 ascending, -1 descending. */
  readonly step: number;
  /** The leaf of the next entry, or null once the iteration is over. */
  leaf: Leaf<K, V> | null = null;
  index = 0;
  /** First index in `leaf` past the range in the walking direction (may be -1 or length). */
  stop = 0;

  constructor(tree: Tree<K, V>, range: Range<K> | undefined) {
    this.tree = tree;
    this.range = range;
    this.step = range?.reverse === true ? -1 : 1;
  }

  /** Positions on the first entry in walking order. Separate from construction: see the map. */
  start(): void {
    const range = this.range;
    if (this.step > 0) this.seekLower(range?.lower, range?.lowerExclusive === true);
    else this.seekUpper(range?.upper, range?.upperExclusive === true);
    if (this.leaf !== null) this.stop = this.stopIn(this.leaf);
    this.settle();
  }

  /** After `index` moved: moves to the neighbour leaf when the run ended, or ends. */
  settle(): void {
    let leaf = this.leaf;
    while (leaf !== null && (this.step > 0 ? this.index >= this.stop : this.index <= this.stop)) {
      // A stop inside the leaf means the far bound was reached; only a stop at the leaf's
      // edge lets the walk continue into the neighbour.
      const edge = this.step > 0 ? leaf.keys.length : -1;
      leaf = this.stop !== edge ? null : this.step > 0 ? leaf.next : leaf.prev;
      this.leaf = leaf;
      if (leaf === null) return;
      this.index = this.step > 0 ? 0 : leaf.keys.length - 1;
      this.stop = this.stopIn(leaf);
    }
  }

  /** Forward start: the first key >= lower (> if exclusive). */
  private seekLower(lower: K | undefined, exclusive: boolean): void {
    const tree = this.tree;
    if (lower === undefined) {
      let node = tree.root;
      while (!node.isLeaf) node = node.children[0]!;
      this.leaf = node;
      this.index = 0;
      return;
    }
    this.leaf = tree.leafFor(lower);
    const i = search(this.leaf.keys, lower, tree.compare);
    this.index = i < 0 ? ~i : exclusive ? i + 1 : i;
  }

  /** Reverse start: the last key <= upper (< if exclusive). */
  private seekUpper(upper: K | undefined, exclusive: boolean): void {
    const tree = this.tree;
    if (upper === undefined) {
      let node = tree.root;
      while (!node.isLeaf) node = node.children[node.children.length - 1]!;
      this.leaf = node;
      this.index = node.keys.length - 1;
      return;
    }
    this.leaf = tree.leafFor(upper);
    const i = search(this.leaf.keys, upper, tree.compare);
    this.index = i < 0 ? ~i - 1 : exclusive ? i - 1 : i;
  }

  /** Where the run in `leaf` ends: the first index beyond the far bound, or the leaf's edge. */
  private stopIn(leaf: Leaf<K, V>): number {
    const keys = leaf.keys;
    const range = this.range;
    const compare = this.tree.compare;
    if (this.step > 0) {
      const upper = range?.upper;
      if (upper === undefined || keys.length === 0) return keys.length;
      const exclusive = range?.upperExclusive === true;
      // Common case: the whole leaf is in range, settled with one comparison.
      const c = compare(keys[keys.length - 1]!, upper);
      if (c < 0 || (c === 0 && !exclusive)) return keys.length;
      const i = search(keys, upper, compare);
      return i < 0 ? ~i : exclusive ? i : i + 1;
    }
    const lower = range?.lower;
    if (lower === undefined || keys.length === 0) return -1;
    const exclusive = range?.lowerExclusive === true;
    const c = compare(keys[0]!, lower);
    if (c > 0 || (c === 0 && !exclusive)) return -1;
    const i = search(keys, lower, compare);
    return i < 0 ? ~i - 1 : exclusive ? i : i - 1;
  }
}

type Project<K, V, T> = (leaf: Leaf<K, V>, index: number) => T;

const projectEntry = <K, V>(leaf: Leaf<K, V>, i: number): [K, V] => [
  leaf.keys[i]!,
  leaf.values[i]!,
];
const projectKey = <K, V>(leaf: Leaf<K, V>, i: number): K => leaf.keys[i]!;
const projectValue = <K, V>(leaf: Leaf<K, V>, i: number): V => leaf.values[i]!;

/** One class for entries, keys and values, so the iteration loop stays monomorphic. */
class RangeIterator<K, V, T> implements IterableIterator<T> {
  readonly #cursor: Cursor<K, V>;
  readonly #project: Project<K, V, T>;
  #started = false;
  #version = 0;

  constructor(cursor: Cursor<K, V>, project: Project<K, V, T>) {
    this.#cursor = cursor;
    this.#project = project;
  }

  next(): IteratorResult<T> {
    const cursor = this.#cursor;
    if (!this.#started) {
      // Locating the start lazily lets an iterator made before a mutation see its result.
      this.#started = true;
      this.#version = cursor.tree.version;
      cursor.start();
    } else if (cursor.leaf !== null) {
      assert(cursor.tree.version === this.#version, "ordered map changed during iteration");
      cursor.index += cursor.step;
      cursor.settle();
    }
    const leaf = cursor.leaf;
    if (leaf === null) return { done: true, value: undefined };
    return { done: false, value: this.#project(leaf, cursor.index) };
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this;
  }
}

/** Key bounds a subtree must respect, inherited from the separators above it. */
interface Bounds<K> {
  lower: K | undefined;
  hasLower: boolean;
  upper: K | undefined;
  hasUpper: boolean;
}

/** Checks `node`'s subtree; appends its leaves in order; returns its entry count. */
function checkNode<K, V>(
  tree: Tree<K, V>,
  node: Node<K, V>,
  bounds: Bounds<K>,
  isRoot: boolean,
  leaves: Leaf<K, V>[],
): number {
  const size = nodeSize(node);
  assert(size <= nodeKeysMax, `node of ${size} exceeds ${nodeKeysMax}`);
  if (!isRoot) assert(size >= nodeKeysMin, `node of ${size} under ${nodeKeysMin}`);
  checkSorted(tree, node.keys, bounds);
  if (node.isLeaf) {
    assert(node.values.length === node.keys.length, "leaf keys and values in step");
    leaves.push(node);
    return node.keys.length;
  }
  assert(node.keys.length === node.children.length - 1, "one separator between children");
  assert(!isRoot || size >= 2, "a branch root has two children at least");
  let count = 0;
  let depth = -1;
  for (let i = 0; i < node.children.length; i++) {
    const child: Bounds<K> = {
      lower: i === 0 ? bounds.lower : node.keys[i - 1],
      hasLower: i === 0 ? bounds.hasLower : true,
      upper: i === node.keys.length ? bounds.upper : node.keys[i],
      hasUpper: i === node.keys.length ? bounds.hasUpper : true,
    };
    count += checkNode(tree, node.children[i]!, child, false, leaves);
    const childDepth = leafDepth(node.children[i]!);
    assert(depth === -1 || depth === childDepth, "all leaves at one depth");
    depth = childDepth;
  }
  return count;
}

function leafDepth<K, V>(node: Node<K, V>): number {
  let depth = 0;
  for (let n = node; !n.isLeaf; n = n.children[0]!) depth++;
  return depth;
}

/** Keys strictly ascending, each within [lower, upper). */
function checkSorted<K, V>(tree: Tree<K, V>, keys: readonly K[], bounds: Bounds<K>): void {
  const compare = tree.compare;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (i > 0) assert(compare(keys[i - 1]!, key) < 0, "keys strictly ascending");
    if (bounds.hasLower) assert(compare(bounds.lower as K, key) <= 0, "key below separator");
    if (bounds.hasUpper) assert(compare(key, bounds.upper as K) < 0, "key at or above separator");
  }
}

/** The prev/next links visit exactly the leaves of the tree, in order. */
function checkLeafChain<K, V>(leaves: readonly Leaf<K, V>[]): void {
  for (let i = 0; i < leaves.length; i++) {
    const leaf = leaves[i]!;
    assert(leaf.prev === (i === 0 ? null : leaves[i - 1]), "leaf prev link");
    assert(leaf.next === (i === leaves.length - 1 ? null : leaves[i + 1]), "leaf next link");
  }
}
