import { serviceOf } from '../support/backends.js';
import { cdrContract } from './cdr.contract.js';

cdrContract({ name: 'cdr-sqlite', create: () => serviceOf('cdr', 'cdr-sqlite') });
