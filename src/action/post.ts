import { runPost } from './run.ts';
await runPost();
