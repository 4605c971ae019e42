import type { Activate } from '../../../core/stub.js';
import { answer, reportingStub } from '../report.js';

/**
 * Attack: on `execute fatal`, asks V8 for an array longer than it can make. V8 does not throw
 * a RangeError there: it ends the whole process ("Fatal JavaScript invalid size error",
 * crbug.com/1201626), whatever thread asked. Only a sandbox in a process of its own contains it.
 */
const activate: Activate = (ctx) =>
  reportingStub(ctx, {}, (method, msg) => {
    if (method !== 'fatal') return false;
    answer(ctx, msg, 200, 'splitting');
    ctx.setTimeout(() => {
      'x'.repeat(2 ** 28).split('');
    }, 0);
    return true;
  });

export default activate;
