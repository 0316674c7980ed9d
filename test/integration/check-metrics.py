#!/usr/bin/env python3
"""Checks a Prometheus text exposition (format 0.0.4) as a whole.

usage: check-metrics.py < METRICS       check stdin; exit 1 with the
                                        problems on stderr
       check-metrics.py --self-test     check that broken expositions are
                                        caught (so that this checker can fail)

What is checked: every sample belongs to a family announced by one # HELP
and one # TYPE line before its samples; TYPE is a known type; names and
labels are well formed, values are numbers (counters and histogram parts
non-negative); no series (name and label set) appears twice; a
histogram's series have buckets whose le bounds increase and whose counts
never decrease, a +Inf bucket equal to _count, and a _sum.
"""

import math
import re
import sys

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
SAMPLE = re.compile(r'^(' + NAME + r')(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}


def parse_labels(text):
    labels = []
    pos = 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        if not m:
            raise ValueError('bad label syntax at %r' % text[pos:])
        labels.append((m.group(1), m.group(2)))
        pos = m.end()
    names = [k for k, _ in labels]
    if len(set(names)) != len(names):
        raise ValueError('repeated label name in {%s}' % text)
    return labels


def family_of(name, types):
    if name in types:
        return name
    for suffix in ('_bucket', '_sum', '_count'):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) in ('histogram',
                                                          'summary'):
            return base
    return None


def check(text):
    """Returns the list of problems found in exposition 'text'."""
    errors = []
    helps, types = {}, {}
    seen = set()
    hist = {}       # (family, labels without le) -> {'buckets', 'sum', ...}
    for n, line in enumerate(text.splitlines(), 1):
        where = 'line %d' % n
        if not line.strip():
            continue
        if line.startswith('#'):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ('HELP', 'TYPE'):
                kind, name = parts[1], parts[2]
                rest = parts[3] if len(parts) > 3 else ''
                table = helps if kind == 'HELP' else types
                if name in table:
                    errors.append('%s: second # %s for %s' % (where, kind,
                                                              name))
                if kind == 'TYPE' and rest not in TYPES:
                    errors.append('%s: unknown type %r' % (where, rest))
                if kind == 'HELP' and not rest:
                    errors.append('%s: empty HELP for %s' % (where, name))
                table[name] = rest
            continue
        m = SAMPLE.match(line)
        if not m:
            errors.append('%s: not a sample: %r' % (where, line))
            continue
        name, label_text, value_text = m.groups()
        try:
            labels = parse_labels(label_text or '')
            value = float(value_text)
        except ValueError as e:
            errors.append('%s: %s' % (where, e))
            continue
        family = family_of(name, types)
        if family is None:
            errors.append('%s: %s has no # TYPE before it' % (where, name))
            continue
        if family not in helps:
            errors.append('%s: %s has no # HELP before it' % (where, family))
        key = (name, tuple(sorted(labels)))
        if key in seen:
            errors.append('%s: duplicate series %s{%s}' % (where, name,
                                                          label_text or ''))
        seen.add(key)
        kind = types[family]
        if kind in ('counter', 'histogram') and not value >= 0:
            errors.append('%s: %s %s is %s' % (where, kind, name,
                                               value_text))
        if kind != 'histogram':
            continue
        rest = tuple(sorted((k, v) for k, v in labels if k != 'le'))
        h = hist.setdefault((family, rest), {'buckets': [], 'sum': None,
                                             'count': None})
        if name.endswith('_bucket'):
            le = dict(labels).get('le')
            if le is None:
                errors.append('%s: bucket without le' % where)
                continue
            try:
                bound = math.inf if le == '+Inf' else float(le)
            except ValueError:
                errors.append('%s: bad le %r' % (where, le))
                continue
            h['buckets'].append((bound, value, where))
        elif name.endswith('_sum'):
            h['sum'] = value
        elif name.endswith('_count'):
            h['count'] = value
    for (family, rest), h in sorted(hist.items()):
        series = '%s{%s}' % (family, ','.join('%s="%s"' % kv
                                              for kv in rest))
        buckets = h['buckets']
        if not buckets:
            errors.append('%s: no buckets' % series)
            continue
        for (b0, c0, _), (b1, c1, w1) in zip(buckets, buckets[1:]):
            if not b1 > b0:
                errors.append('%s: %s: le %g after %g' % (series, w1, b1, b0))
            if c1 < c0:
                errors.append('%s: %s: bucket count %g < %g (not '
                              'cumulative)' % (series, w1, c1, c0))
        if buckets[-1][0] != math.inf:
            errors.append('%s: no +Inf bucket last' % series)
        elif h['count'] is None:
            errors.append('%s: no _count' % series)
        elif buckets[-1][1] != h['count']:
            errors.append('%s: +Inf bucket %g != _count %g'
                          % (series, buckets[-1][1], h['count']))
        if h['sum'] is None:
            errors.append('%s: no _sum' % series)
    return errors


GOOD = '''# HELP x_seconds A histogram.
# TYPE x_seconds histogram
x_seconds_bucket{c="a",le="0.1"} 1
x_seconds_bucket{c="a",le="1"} 2
x_seconds_bucket{c="a",le="+Inf"} 3
x_seconds_sum{c="a"} 2.5
x_seconds_count{c="a"} 3
# HELP y_total A counter.
# TYPE y_total counter
y_total{c="a"} 4
'''


def self_test():
    bad = {
        'not cumulative': GOOD.replace('le="1"} 2', 'le="1"} 0'),
        '+Inf != _count': GOOD.replace('_count{c="a"} 3', '_count{c="a"} 4'),
        'no _sum': GOOD.replace('x_seconds_sum{c="a"} 2.5\n', ''),
        'no +Inf': GOOD.replace('x_seconds_bucket{c="a",le="+Inf"} 3\n', ''),
        'no HELP': GOOD.replace('# HELP y_total A counter.\n', ''),
        'no TYPE': GOOD.replace('# TYPE y_total counter\n', ''),
        'duplicate series': GOOD + 'y_total{c="a"} 4\n',
        'le out of order': GOOD.replace('le="0.1"', 'le="5"'),
        'bad value': GOOD.replace('y_total{c="a"} 4', 'y_total{c="a"} x'),
        'negative counter': GOOD.replace('y_total{c="a"} 4',
                                         'y_total{c="a"} -1'),
    }
    failed = 0
    got = check(GOOD)
    if got:
        print('FAIL a good exposition is refused: %s' % got)
        failed += 1
    for what, text in bad.items():
        got = check(text)
        if got:
            print('ok   caught: %s (%s)' % (what, got[0]))
        else:
            print('FAIL not caught: %s' % what)
            failed += 1
    print('%d passed, %d failed' % (len(bad) + 1 - failed, failed))
    return 1 if failed else 0


def main():
    if sys.argv[1:] == ['--self-test']:
        return self_test()
    errors = check(sys.stdin.read())
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
