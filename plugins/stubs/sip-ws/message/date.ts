import { fail } from './fault.js';

/**
 * RFC 3261 §20.17 / §25.1 `SIP-date = rfc1123-date`, always in GMT:
 * `wkday "," SP date1 SP time SP "GMT"`, e.g. `Sat, 13 Nov 2010 23:29:00 GMT`.
 */
const RFC1123 =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$/;
const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';
const DAYS = 'SunMonTueWedThuFriSat';

/** RFC 3261 §20.17: a Date value; a time zone other than GMT, or a date that does not exist, is refused. */
export function parseSipDate(s: string): Date {
  const m = RFC1123.exec(s);
  if (!m) fail('a SIP date is "Wkd, DD Mon YYYY HH:MM:SS GMT" (RFC 1123, GMT only)');
  const [, wkday, day, month, year, hh, mm, ss] = m as unknown as string[];
  const date = new Date(
    Date.UTC(Number(year), MONTHS.indexOf(month!) / 3, Number(day), Number(hh), Number(mm), Number(ss)),
  );
  const exists =
    date.getUTCDate() === Number(day) &&
    date.getUTCHours() === Number(hh) &&
    date.getUTCSeconds() === Number(ss);
  if (!exists || DAYS.indexOf(wkday!) / 3 !== date.getUTCDay())
    fail('the date does not exist or its weekday is wrong');
  return date;
}

/** RFC 3261 §20.17: `date` in rfc1123 form (what `Date#toUTCString` writes). */
export function formatSipDate(date: Date): string {
  return date.toUTCString();
}
