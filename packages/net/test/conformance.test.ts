import { describeConformance } from '@socketlab/conformance';
import { adapter } from '../src/index.js';

describeConformance(adapter);
