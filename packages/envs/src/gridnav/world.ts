/**
 * Grid geometry for gridnav: poses, moves, visibility and the BFS oracle. Pure functions
 * over a task, so the environment, the expert and the tests share one definition.
 */

/** 0 north, 1 east, 2 south, 3 west; y grows southwards as in MiniGrid. */
export type Dir = 0 | 1 | 2 | 3;

export interface Pose {
  x: number;
  y: number;
  dir: Dir;
}

export interface GridObject {
  color: string;
  type: string;
  x: number;
  y: number;
}

export interface GridLayout {
  /** Side length including the border walls. */
  size: number;
  /** Interior wall cells. */
  walls: readonly (readonly [number, number])[];
  objects: readonly GridObject[];
  /** Index of the target in `objects`. */
  target: number;
  /** Success when the Euclidean distance to the target is at most this many cells. */
  radius: number;
}

/** EB-Navigation's action ids. */
export const ACTIONS = ['move forward', 'move backward', 'move right', 'move left', 'turn right', 'turn left'] as const;
export type ActionId = 0 | 1 | 2 | 3 | 4 | 5;

const DX = [0, 1, 0, -1] as const;
const DY = [-1, 0, 1, 0] as const;

export function vector(dir: Dir): [number, number] {
  return [DX[dir], DY[dir]];
}

export function isBlocked(layout: GridLayout, x: number, y: number): boolean {
  if (x <= 0 || y <= 0 || x >= layout.size - 1 || y >= layout.size - 1) return true;
  if (layout.walls.some(([wx, wy]) => wx === x && wy === y)) return true;
  return layout.objects.some((o) => o.x === x && o.y === y);
}

export function isWall(layout: GridLayout, x: number, y: number): boolean {
  if (x <= 0 || y <= 0 || x >= layout.size - 1 || y >= layout.size - 1) return true;
  return layout.walls.some(([wx, wy]) => wx === x && wy === y);
}

/** The pose an action leads to, or undefined when a wall or an object blocks the move. */
export function applyAction(layout: GridLayout, pose: Pose, action: ActionId): Pose | undefined {
  if (action === 4) return { ...pose, dir: ((pose.dir + 1) % 4) as Dir };
  if (action === 5) return { ...pose, dir: ((pose.dir + 3) % 4) as Dir };
  // forward, backward, strafe right, strafe left: the heading rotated by 0, 2, 1, 3 quarter turns
  const rotation = [0, 2, 1, 3][action] as number;
  const [dx, dy] = vector(((pose.dir + rotation) % 4) as Dir);
  const x = pose.x + dx;
  const y = pose.y + dy;
  return isBlocked(layout, x, y) ? undefined : { x, y, dir: pose.dir };
}

export function euclidean(layout: GridLayout, pose: Pose): number {
  const t = layout.objects[layout.target] as GridObject;
  return Math.hypot(t.x - pose.x, t.y - pose.y);
}

export function isSuccess(layout: GridLayout, pose: Pose): boolean {
  return euclidean(layout, pose) <= layout.radius + 1e-9;
}

/** Shortest path length over free cells from the pose's cell to a cell next to the target (4-neighbourhood). */
export function geodesic(layout: GridLayout, pose: Pose): number {
  const t = layout.objects[layout.target] as GridObject;
  const seen = new Set<string>([`${pose.x},${pose.y}`]);
  let frontier: [number, number][] = [[pose.x, pose.y]];
  for (let d = 0; frontier.length > 0; d++) {
    const next: [number, number][] = [];
    for (const [x, y] of frontier) {
      if (Math.abs(x - t.x) + Math.abs(y - t.y) === 1) return d;
      for (let dir = 0; dir < 4; dir++) {
        const nx = x + (DX[dir as Dir] as number);
        const ny = y + (DY[dir as Dir] as number);
        const key = `${nx},${ny}`;
        if (seen.has(key) || isBlocked(layout, nx, ny)) continue;
        seen.add(key);
        next.push([nx, ny]);
      }
    }
    frontier = next;
  }
  return Number.POSITIVE_INFINITY;
}

/**
 * Egocentric coordinates of a cell: steps forward and steps to the right of the agent.
 */
export function egocentric(pose: Pose, x: number, y: number): { forward: number; right: number } {
  const [fx, fy] = vector(pose.dir);
  const [rx, ry] = vector(((pose.dir + 1) % 4) as Dir);
  const dx = x - pose.x;
  const dy = y - pose.y;
  return { forward: dx * fx + dy * fy, right: dx * rx + dy * ry };
}

/** The view cone: 7x7 cells in front of the agent (forward 0..6, right -3..3), as in MiniGrid. */
export const VIEW_DEPTH = 6;
export const VIEW_HALF_WIDTH = 3;

function inCone(pose: Pose, x: number, y: number): boolean {
  const { forward, right } = egocentric(pose, x, y);
  return forward >= 0 && forward <= VIEW_DEPTH && Math.abs(right) <= VIEW_HALF_WIDTH && !(forward === 0 && right === 0);
}

/**
 * Visible when in the cone and the straight segment between cell centres crosses no wall or
 * object cell (sampled at quarter-cell steps). MiniGrid propagates visibility cell by cell
 * instead; the difference only matters at wall corners.
 */
export function isVisible(layout: GridLayout, pose: Pose, x: number, y: number): boolean {
  if (!inCone(pose, x, y)) return false;
  const steps = Math.ceil(Math.hypot(x - pose.x, y - pose.y) * 4);
  for (let s = 1; s < steps; s++) {
    const cx = Math.round(pose.x + ((x - pose.x) * s) / steps);
    const cy = Math.round(pose.y + ((y - pose.y) * s) / steps);
    if ((cx === pose.x && cy === pose.y) || (cx === x && cy === y)) continue;
    if (isBlocked(layout, cx, cy)) return false;
  }
  return true;
}

export function targetVisible(layout: GridLayout, pose: Pose): boolean {
  const t = layout.objects[layout.target] as GridObject;
  return isVisible(layout, pose, t.x, t.y);
}

/**
 * SRGPO's step reward: 1 when the agent got closer by more than eps, or the target just came
 * into view; 0 otherwise (and for invalid actions, which the caller handles).
 */
export function stepReward(
  layout: GridLayout,
  before: Pose,
  after: Pose,
  metric: 'euclidean' | 'geodesic' = 'euclidean',
  eps = 0.01,
): 0 | 1 {
  const distance = metric === 'euclidean' ? euclidean : geodesic;
  const closer = distance(layout, after) < distance(layout, before) - eps;
  const cameIntoView = targetVisible(layout, after) && !targetVisible(layout, before);
  return closer || cameIntoView ? 1 : 0;
}

/** Breadth-first search over poses: the shortest action sequence to a success pose. */
export function oraclePlan(layout: GridLayout, start: Pose): ActionId[] | undefined {
  const key = (p: Pose) => `${p.x},${p.y},${p.dir}`;
  const parents = new Map<string, { from: string; action: ActionId } | null>([[key(start), null]]);
  let frontier: Pose[] = [start];
  while (frontier.length > 0) {
    const next: Pose[] = [];
    for (const pose of frontier) {
      if (isSuccess(layout, pose)) {
        const plan: ActionId[] = [];
        let at = key(pose);
        for (let link = parents.get(at); link; link = parents.get(at)) {
          plan.push(link.action);
          at = link.from;
        }
        return plan.reverse();
      }
      for (let a = 0; a < ACTIONS.length; a++) {
        const moved = applyAction(layout, pose, a as ActionId);
        if (!moved || parents.has(key(moved))) continue;
        parents.set(key(moved), { from: key(pose), action: a as ActionId });
        next.push(moved);
      }
    }
    frontier = next;
  }
  return undefined;
}
