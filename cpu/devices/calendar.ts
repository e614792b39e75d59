/**
 * Proleptic Gregorian calendar arithmetic for the RTC: days counted from
 * 1900-01-01 (a Monday), with the leap-year rule (divisible by 4, except
 * centuries not divisible by 400).
 */

export interface DateTime {
  year: number;
  /** 1-12. */
  month: number;
  /** 1-31. */
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const EPOCH_YEAR = 1900;
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** Leap years in [1, y). */
function leapsBefore(y: number): number {
  const p = y - 1;
  return Math.floor(p / 4) - Math.floor(p / 100) + Math.floor(p / 400);
}

function daysBeforeYear(y: number): number {
  return 365 * (y - EPOCH_YEAR) + leapsBefore(y) - leapsBefore(EPOCH_YEAR);
}

function monthLength(y: number, m: number): number {
  return m === 2 && isLeapYear(y) ? 29 : MONTH_DAYS[m - 1]!;
}

/** Seconds since 1900-01-01 00:00:00; months are clamped to 1-12, larger days, hours... carry over. */
export function toSeconds(d: DateTime): number {
  const month = Math.min(Math.max(d.month, 1), 12);
  let days = daysBeforeYear(d.year);
  for (let m = 1; m < month; m++) days += monthLength(d.year, m);
  days += d.day - 1;
  return ((days * 24 + d.hour) * 60 + d.minute) * 60 + d.second;
}

export function fromSeconds(s: number): DateTime & { dayOfWeek: number } {
  const days = Math.floor(s / 86400);
  let rest = s - days * 86400;
  const hour = Math.floor(rest / 3600);
  rest -= hour * 3600;
  const minute = Math.floor(rest / 60);
  const second = rest - minute * 60;
  let year = EPOCH_YEAR + Math.floor(days / 365.2425);
  while (daysBeforeYear(year) > days) year--;
  while (daysBeforeYear(year + 1) <= days) year++;
  let d = days - daysBeforeYear(year);
  let month = 1;
  while (d >= monthLength(year, month)) d -= monthLength(year, month++);
  // 1900-01-01 was a Monday; the RTC numbers Sunday 1 .. Saturday 7.
  const dayOfWeek = (((days + 1) % 7) + 7) % 7 + 1;
  return { year, month, day: d + 1, hour, minute, second, dayOfWeek };
}
