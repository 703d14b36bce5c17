#!/usr/bin/env node
// The `huewatch` command. TypeScript runs through tsx's loader, so a fresh clone needs no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../platform/cli.ts');
process.exitCode = await main(process.argv.slice(2));
