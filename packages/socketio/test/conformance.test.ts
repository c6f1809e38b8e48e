import { describeConformance } from '@socketlab/conformance';
import { adapter } from '../src/index.js';

describeConformance(adapter, { connect: { transport: 'websocket' }, label: 'websocket' });
describeConformance(adapter, { connect: { transport: 'polling' }, label: 'polling' });
