/** Part of the catalog test (see test-support/catalog.ts): split so the test workers share it. */
import { describePluginRuns } from './test-support/catalog.js';

describePluginRuns('shapers');
