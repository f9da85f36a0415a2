// Every command's --help: each option that takes a value shows its default (or says it is
// required); the top-level help lists every exit code any command returns; the link speed takes
// the one rate syntax (`10G` = 10 Gbit/s) and a bare number is refused with its new form.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { UsageError, formatLinkSpeed, parseLinkSpeed } from '../../src/cli/args.js';
import { COMMANDS, COMMON_EXIT_CODES, usage } from '../../src/cli/commands/index.js';
import { help as migrateHelp, optionsFromArgs } from '../../src/cli/commands/migrate.js';
import { checkMigrationFields, type MigrationOptions } from '../../src/migration/options.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface OptionEntry { flag: string; value: string | null; text: string }

/**
 * The option entries of a help text: a line indented at most 4 columns that starts with `--flag`,
 * with the lines after it indented deeper (its wrapped description). `value` is the metavariable
 * after the flag (N, SIZE, FILE, ...), null for a switch.
 */
function optionEntries(help: string): OptionEntry[] {
  const entries: Array<OptionEntry & { indent: number }> = [];
  for (const line of help.split('\n')) {
    const start = /^( {1,4})(--[a-z][a-z0-9-]*)(?:[ =]([A-Z][A-Z0-9:_,.]*)(?=\s|$))?/.exec(line);
    const indent = line.length - line.trimStart().length;
    if (start) {
      entries.push({ flag: start[2]!, value: start[3] ?? null, text: line.trim(), indent });
    } else if (entries.length > 0 && line.trim() !== '' && indent > entries.at(-1)!.indent + 2) {
      entries.at(-1)!.text += ` ${line.trim()}`;
    } else if (entries.length > 0) {
      entries.at(-1)!.indent = Infinity; // the entry ended: nothing more continues it
    }
  }
  return entries.map(({ flag, value, text }) => ({ flag, value, text }));
}

test('optionEntries reads flags, metavariables and wrapped descriptions', (t) => {
  const help = `usage: x [--calls N]\n\n  --calls N   how many (default 5)\n  --seed N    a seed (default: random).\n              --seed S replays\n  --json      as JSON\n  --iommu-lanes N\n              lanes (default 2)\n\nexit codes: 0`;
  t.deepEqual(optionEntries(help), [
    { flag: '--calls', value: 'N', text: '--calls N   how many (default 5)' },
    { flag: '--seed', value: 'N', text: '--seed N    a seed (default: random). --seed S replays' },
    { flag: '--json', value: null, text: '--json      as JSON' },
    { flag: '--iommu-lanes', value: 'N', text: '--iommu-lanes N lanes (default 2)' },
  ]);
});

for (const [name, command] of Object.entries(COMMANDS)) {
  test(`${name} --help: every option that takes a value shows its default or says it is required`, (t) => {
    const entries = optionEntries(command.help);
    const missing = entries.filter((e) => e.value !== null && !/\(default|\bdefault\b|\brequired\b/.test(e.text)).map((e) => e.text);
    t.deepEqual(missing, []);
    // The same option is not listed twice.
    t.is(new Set(entries.map((e) => e.flag)).size, entries.length);
  });
}

test('the commands with options list them', (t) => {
  for (const name of ['migrate', 'stress', 'fuzz']) t.true(optionEntries(COMMANDS[name]!.help).length >= 4, name);
});

test('the top-level help lists every exit code: the common ones and what each command adds, with its meaning', (t) => {
  const text = usage();
  for (const [code, meaning] of Object.entries(COMMON_EXIT_CODES)) {
    t.regex(text, new RegExp(`^  ${code} +${meaning.split('\n')[0]!.replace(/[()]/g, '\\$&')}`, 'm'), `exit ${code}`);
  }
  let added = 0;
  for (const [name, command] of Object.entries(COMMANDS)) {
    for (const [code, meaning] of Object.entries(command.exitCodes ?? {})) {
      added++;
      t.true(text.includes(`${name}: ${meaning}`), `${name} ${code}`);
      // The command's own help has the code in its exit code paragraph.
      const own = command.help.slice(command.help.toLowerCase().lastIndexOf('exit codes'));
      t.regex(own, new RegExp(`\\b${code}\\b`), `${name} --help lists ${code}`);
    }
  }
  t.true(added >= 3, 'migrate adds 3 and 4, stress 3');
  t.true(text.includes('  3   '), 'code 3 once, with both meanings under it');
  // What the installed CLI prints is that text.
  const r = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8' });
  t.is(r.status, 0);
  t.is(r.stdout, text);
});

test('link speed: bits per second in decimal units, as NIC speeds; bytes per second out', (t) => {
  t.is(parseLinkSpeed('10G', 'x'), 1_250_000_000);
  t.is(parseLinkSpeed('25G', 'x'), 3_125_000_000);
  t.is(parseLinkSpeed('100Gbit', 'x'), 12_500_000_000);
  t.is(parseLinkSpeed('2.5Gb/s', 'x'), 312_500_000);
  t.is(parseLinkSpeed('800Mbps', 'x'), 100_000_000);
  t.is(parseLinkSpeed(' 1g ', 'x'), 125_000_000);
  t.is(formatLinkSpeed(1_250_000_000), '10 Gbit/s');
  t.is(formatLinkSpeed(312_500_000), '2.5 Gbit/s');
  for (const bad of ['', 'G', '10GB', '10 GiB', '-10G', '0G', '10Q', '1e400G', '10Gbits/h']) {
    t.throws(() => parseLinkSpeed(bad, '--link-speed'), { instanceOf: UsageError }, bad);
  }
});

test('link speed: a bare number (bytes per second before) is refused, naming the same speed in the new form', (t) => {
  const error = t.throws(() => parseLinkSpeed('1250000000', '--link-speed'), { instanceOf: UsageError });
  t.is(error.message, "--link-speed: '1250000000' has no unit; a link speed is in bits per second, as a NIC's (10G = 10 Gbit/s): 1250000000 bytes/s is 10G");
  t.regex(t.throws(() => parseLinkSpeed('3125000000', '--link-speed'))!.message, /is 25G$/);
});

test('--link-speed 10G is the default link, in the CLI and in a config file; the floor is named in bits', (t) => {
  t.is(optionsFromArgs(['--link-speed', '10G']).filled.linkSpeed, 1_250_000_000);
  t.is(optionsFromArgs([]).filled.linkSpeed, 1_250_000_000);
  t.is(optionsFromArgs(['--link-speed', '25G', '--bandwidth', '1G']).filled.linkSpeed, 3_125_000_000);
  t.throws(() => optionsFromArgs(['--link-speed', '8M']), { instanceOf: UsageError, message: /--link-speed '8M': must be at least .*8\.4M in bits/ });
});

test('the config file example in migrate --help is valid JSON that passes the field checks', (t) => {
  const example = migrateHelp.slice(migrateHelp.indexOf('{"ram"'), migrateHelp.indexOf('\n\nexit codes'));
  const config = JSON.parse(example) as MigrationOptions;
  t.notThrows(() => checkMigrationFields(config));
  t.is(config.linkSpeed, '10G');
});
