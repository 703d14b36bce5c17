import type { FloodReplay } from './hydrograph.ts';
import { FLOOD_2017 } from './flood-2017.ts';
import { FLOOD_2020 } from './flood-2020.ts';
import { FLOOD_2025 } from './flood-2025.ts';

/** The recorded floods the simulator can replay, by scenario name (SIM_SCENARIO). */
export const FLOOD_REPLAYS = {
  'flood-2017': FLOOD_2017,
  'flood-2020': FLOOD_2020,
  'flood-2025': FLOOD_2025,
} as const satisfies Record<string, FloodReplay>;
export type ReplayName = keyof typeof FLOOD_REPLAYS;
export const REPLAY_NAMES = Object.keys(FLOOD_REPLAYS) as ReplayName[];
