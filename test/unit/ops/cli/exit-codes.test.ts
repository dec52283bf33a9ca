/** The exit-code scheme (src/cli/exit-codes.ts): one code per outcome, for every error the commands throw. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { CdcViewsError, ConfigError } from '../../../../src/errors.ts';
import { ConfigErrors } from '../../../../src/config.ts';
import { EXIT_CODES_HELP, ExitCode, InterruptedError, exitCodeOf, failureText } from '../../../../src/cli/exit-codes.ts';

const named = (name: string, props: Record<string, unknown> = {}): Error => Object.assign(new Error('x'), { name }, props);

test('exitCodeOf: usage, refusals, dependencies, interruptions, bugs', () => {
  const cases: [unknown, ExitCode][] = [
    [new ConfigError('--key', 'not JSON'), ExitCode.USAGE],
    [new ConfigErrors([{ field: 'CDCV_HTTP_PORT', problem: 'invalid' }]), ExitCode.USAGE],
    [new CdcViewsError('CONFIG_NO_TOPICS', 'no topic'), ExitCode.USAGE],
    [new CommanderError(1, 'commander.unknownOption', 'unknown option'), ExitCode.USAGE],
    [new CommanderError(1, 'commander.missingMandatoryOptionValue', 'missing'), ExitCode.USAGE],
    [new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'), ExitCode.OK],
    [new CommanderError(0, 'commander.version', '0.1.0'), ExitCode.OK],
    [new CdcViewsError('OPS_NOT_CAUGHT_UP', 'lag 3'), ExitCode.NO],
    [new CdcViewsError('OPS_APP_RUNNING', 'members'), ExitCode.NO],
    [new CdcViewsError('OPS_VERSION_UNKNOWN', 'no v9'), ExitCode.NO],
    [new CdcViewsError('OPS_NOT_CONFIRMED', 'no'), ExitCode.NO],
    [new CdcViewsError('OPS_ALIAS_TAKEN', 'index'), ExitCode.NO],
    [new CdcViewsError('RENDER_FAILED', 'threw'), ExitCode.NO],
    [new CdcViewsError('KAFKA_UNREACHABLE', 'down'), ExitCode.UNAVAILABLE],
    [new CdcViewsError('REDIS_UNREACHABLE', 'down'), ExitCode.UNAVAILABLE],
    [new CdcViewsError('REDIS_AUTH_FAILED', 'password'), ExitCode.UNAVAILABLE],
    [new CdcViewsError('SEARCH_UNREACHABLE', '401'), ExitCode.UNAVAILABLE],
    [new CdcViewsError('CONNECT_TIMEOUT', 'slow'), ExitCode.UNAVAILABLE],
    [new CdcViewsError('CONNECT_ERROR', 'HTTP 500'), ExitCode.UNAVAILABLE],
    [new CdcViewsError('OPS_TIMEOUT', 'slow'), ExitCode.UNAVAILABLE],
    [named('KafkaJSConnectionError'), ExitCode.UNAVAILABLE],
    [named('KafkaJSNumberOfRetriesExceeded'), ExitCode.UNAVAILABLE],
    [named('MaxRetriesPerRequestError'), ExitCode.UNAVAILABLE],
    [named('Error', { code: 'ECONNREFUSED' }), ExitCode.UNAVAILABLE],
    [new InterruptedError('SIGINT'), ExitCode.INTERRUPTED],
    [new CdcViewsError('CONSUMER_CRASHED', 'stopped', { cause: named('KafkaJSNumberOfRetriesExceeded') }), ExitCode.UNAVAILABLE],
    [new CdcViewsError('CONSUMER_CRASHED', 'stopped', { cause: new CdcViewsError('STATE_FORMAT', 'layout') }), ExitCode.NO],
    [new CdcViewsError('CONSUMER_CRASHED', 'stopped'), ExitCode.NO],
    [new TypeError('undefined is not a function'), ExitCode.INTERNAL],
    [named('Error', { code: 'ENOENT' }), ExitCode.INTERNAL],
    ['a string thrown', ExitCode.INTERNAL],
  ];
  for (const [err, code] of cases) assert.equal(exitCodeOf(err), code, `${err instanceof Error ? `${err.name} ${(err as { code?: string }).code ?? ''}` : String(err)}`);
});

/** Every `new CdcViewsError('CODE'` (and subclass code) in src/. */
function codesInSource(dir = 'src'): Set<string> {
  const out = new Set<string>();
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) codesInSource(path).forEach((c) => out.add(c));
    else if (path.endsWith('.ts')) for (const m of readFileSync(path, 'utf8').matchAll(/CdcViewsError\(\s*'([A-Z_]+)'/g)) out.add(m[1]!);
  }
  return out;
}

test('every error code in src/ maps as documented: *_UNREACHABLE/_TIMEOUT/_AUTH_FAILED → 3, CONFIG_* → 2, OPS_* refusals → 1', () => {
  const codes = codesInSource();
  assert.ok(codes.size >= 20, `found ${codes.size} codes`);
  for (const code of codes) {
    const got = exitCodeOf(new CdcViewsError(code, 'x'));
    if (/_(UNREACHABLE|TIMEOUT|AUTH_FAILED|UNAVAILABLE)$/.test(code)) assert.equal(got, ExitCode.UNAVAILABLE, code);
    else if (code.startsWith('CONFIG_')) assert.equal(got, ExitCode.USAGE, code);
    else if (code.startsWith('OPS_')) assert.equal(got, ExitCode.NO, code);
    else assert.ok(([ExitCode.NO, ExitCode.UNAVAILABLE] as number[]).includes(got), `${code} → ${got}`);
  }
});

test('failureText: one line for anticipated failures, the stack for a bug, nothing for commander (it printed already)', () => {
  assert.equal(failureText(new CdcViewsError('KAFKA_UNREACHABLE', 'Kafka cannot be reached at x:1')), 'cdc-views: Kafka cannot be reached at x:1\n');
  assert.equal(failureText(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'")), '');
  const bug = failureText(new TypeError('boom'));
  assert.match(bug, /^cdc-views: internal error \(please report it\): TypeError: boom\n\s+at /);
});

test('the --help epilogue lists every exit code', () => {
  for (const [name, code] of Object.entries(ExitCode)) assert.match(EXIT_CODES_HELP, new RegExp(`^  ${code} +${name} `, 'm'), name);
});
