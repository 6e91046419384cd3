"""Jinja2 as dbt configures it, on generated templates: the oracle of tests/jinja.rs.

    python record.py OUT.jsonl     # every case and what dbt's Jinja2 renders for it

Each case is one template, rendered with dbt-core's own environment
(`dbt_common.clients.jinja.get_environment()`: a sandboxed Jinja2 with the `do` and
`loopcontrols` extensions, dbt's `{% test %}`/`{% materialization %}` tags, its text filters
`as_text`, `as_bool`, `as_native`, `as_number`, `is_list`, and Jinja2's default Undefined, as
when dbt renders a node to run it). The cases are generated, not picked: every value of VALUES
printed, put through every filter of FILTERS and every test of TESTS, every operator of
OPERATORS between pairs of PAIR_VALUES, and the statements of STATEMENTS. A case whose render
raises records `!error` (which error is not compared); a case that prints a memory address
(`<generator object ... at 0x...>`, a lazy filter printed without `| list`) is left out. One
JSON object per line:
`{"template": ..., "output": ...}`.

A case that defines macros (`{% macro %}` ... `{% endmacro %}` first, then the text that calls
them) is rendered as dbt renders a node calling the macros of a macro file: the definitions are
compiled on their own (dbt's parser names them `dbt_macro__<name>`), each is called through a
wrapper that turns `return(x)` into the call's value (as dbt's `MacroGenerator`), and the rest is
rendered with them in its context. (A macro defined in a model's own text is not callable in dbt.)
"""
import json
import re
import sys

from dbt_common.clients.jinja import get_environment
from dbt_common.exceptions.macros import MacroReturn

# Values of every type a dbt template prints or passes on.
VALUES = [
    "none", "None", "true", "True", "false", "0", "1", "-2", "1.5", "2.0", "-0.5", "1e3", "10 ** 20",
    "'a'", "''", "'Hello World'", "\"it's\"", "'a\\\\b'", "' padded '", "'42'", "'3.5'", "'true'", "'yes'",
    "[1, 'a']", "[]", "[none, true, 1.5]", "[[1, 2], [3]]", "['b', 'a', 'c']", "[3, 1, 2]",
    "('a', 'b')", "('a',)", "()", "{'k': 'v', 'n': 1}", "{}", "{'k': [1, {'x': none}]}", "{'b': 2, 'a': 1}",
    "range(3)", "undefined_name", "'x' ~ 1", "1 / 2", "7 // 2", "7 % 3", "2 ** 10", "10 / 5",
    "3 * 'ab'", "[1] + [2]", "'a' + 'b'", "1 + 2.5", "-7 // 2", "'%s-%d' % ('a', 3)",
    "'a,b,,c'.split(',')", "'abc'.upper()", "{'a': 1}.items()", "{'a': 1}.keys()", "{'a': 1}.values()",
    "'abc'[1:]", "[1, 2, 3][::-1]", "'x' in 'xyz'", "1 in [1, 2]", "not none",
]

# Filters dbt users use, each with the arguments it is called with in practice.
FILTERS = [
    "abs", "capitalize", "center(9)", "count", "d('dflt')", "default('dflt')", "default('dflt', true)",
    "dictsort", "e", "escape", "first", "float", "float(9)", "format('x')", "indent(2)",
    "indent(2, true)", "indent(width=2, first=true)", "int", "int(7)", "join", "join(',')", "join(', ')",
    "last", "length", "list", "lower", "map('string')", "map('upper')", "max", "min", "pprint", "reject('none')",
    "replace('a', 'b')", "reverse", "round", "round(1)", "round(0, 'floor')", "round(1, 'ceil')", "safe",
    "select", "select('number')", "slice(2)", "batch(2)", "sort", "sort(reverse=true)", "string", "striptags",
    "sum", "title", "tojson", "trim", "truncate(5)", "unique", "upper", "wordcount", "wordwrap(5)",
    "items", "as_bool", "as_native", "as_number", "as_text", "is_list", "lower | upper", "first | upper",
    "join(',') | upper", "list | length", "string | length", "urlencode", "selectattr('k')",
    "map(attribute='k')", "groupby(0)", "tojson(indent=2)", "filesizeformat", "xmlattr",
]

TESTS = [
    "defined", "undefined", "none", "number", "string", "mapping", "sequence", "iterable", "callable",
    "boolean", "true", "false", "integer", "float", "lower", "upper", "divisibleby(2)", "even", "odd",
    "eq(1)", "ne(1)", "sameas(none)", "in([1, 'a'])", "escaped", "gt(0)", "lt(2)", "ge(1)", "le(1)",
    "==(1)", "filter", "test",
]

PAIR_VALUES = ["none", "true", "0", "1", "2.5", "'a'", "'1'", "[1]", "('a',)", "{'k': 1}", "undefined_name"]
OPERATORS = ["+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", "<=", "and", "or", "in", "not in",
             "is", "is not"]

STATEMENTS = [
    # whitespace control
    "a\n{% if true %}\nb\n{% endif %}\nc", "a\n{%- if true -%}\nb\n{%- endif -%}\nc", "a {{- 'b' -}} c",
    "a\n  {%+ if true %}b{% endif %}", "{# a comment #}x", "a {#- c -#} b", "{{ '{{' }}raw", "{% raw %}{{ x }}{% endraw %}",
    # set, set blocks, namespaces
    "{% set x = 1 %}{{ x }}", "{% set x, y = 1, 2 %}{{ x }}{{ y }}", "{% set x %}a {{ 1 }}{% endset %}[{{ x }}]",
    "{% set x -%}\n  a\n{%- endset %}[{{ x }}]", "{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}",
    "{% set n = 0 %}{% for i in range(3) %}{% set n = n + i %}{% endfor %}{{ n }}",
    "{% set x = [1] %}{% do x.append(2) %}{{ x }}", "{% set x = [1] %}{{ x.append(2) }}{{ x }}",
    "{% set d = {} %}{% do d.update({'a': 1}) %}{{ d }}", "{% set d = {'a': 1} %}{{ d.pop('a') }}{{ d }}",
    "{% set d = {'a': 1} %}{{ d.get('b') }}|{{ d.get('b', 2) }}|{{ d['a'] }}|{{ d.a }}",
    "{% set l = [3, 1] %}{% do l.extend([2]) %}{% do l.sort() %}{{ l }}", "{% set l = [1, 2] %}{{ l.pop() }}{{ l }}",
    "{% set l = [1] %}{% do l.insert(0, 0) %}{{ l }}{{ l.index(1) }}{{ l.count(0) }}",
    "{% set l = ['a'] %}{% do l.append('b') if true %}{{ l }}", "{% set l = ['a'] %}{% do l.append('b') if false %}{{ l }}",
    "{{ x in['a'] }}", "{{ +1 }}", "{{ -(-1) }}", "{{ not not 1 }}", "{{ 'a' if true }}|{{ 'a' if false }}|",
    "{{ 'a' if false else 'b' }}", "{{ (1, 2)[0] }}", "{{ [1, 2][-1] }}", "{{ 'abc'[-1] }}",
    # loops
    "{% for i in [1, 2, 3] %}{{ loop.index }}{{ loop.first }}{{ loop.last }}{% if not loop.last %},{% endif %}{% endfor %}",
    "{% for i in [] %}x{% else %}empty{% endfor %}", "{% for i in range(5) if i is odd %}{{ i }}{% endfor %}",
    "{% for i in range(5) %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "{% for i in range(5) %}{% if i == 3 %}{% continue %}{% endif %}{{ i }}{% endfor %}",
    "{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}",
    "{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }}{% endfor %}", "{% for i in range(3) %}{{ loop.cycle('x', 'y') }}{% endfor %}",
    "{% for i in [1, 2] %}{{ loop.length }}{{ loop.revindex }}{{ loop.index0 }}{% endfor %}",
    "{% for i in [1, 1, 2] %}{{ loop.changed(i) }}{% endfor %}",
    "{% for i in [1, 2] %}{% for j in [3] %}{{ loop.index }}{% endfor %}{% endfor %}",
    "{% for c in 'ab' %}{{ c }}.{% endfor %}", "{% for i in undefined_name %}x{% endfor %}end",
    # macros: defaults, varargs, kwargs, caller
    "{% macro m(a, b=2) %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }}|{{ m(1, 3) }}|{{ m(1, b=4) }}",
    "{% macro m(schema_name, name=schema_name) %}{{ name }}{% endmacro %}{{ m('s') }}",
    "{% macro m(a, b=a ~ 'x') %}{{ b }}{% endmacro %}{{ m('y') }}",
    "{% macro m() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}",
    "{% macro m(a) %}{{ a }}{{ varargs | length }}{% endmacro %}{{ m(1, 2, 3) }}",
    "{% macro m(a) %}{{ kwargs.get('z', 'none') }}{% endmacro %}{{ m(1, z=9) }}",
    "{% macro m() %}[{{ caller() }}]{% endmacro %}{% call m() %}inside{% endcall %}",
    "{% macro m() %}[{{ caller(1) }}]{% endmacro %}{% call(x) m() %}got {{ x }}{% endcall %}",
    "{% macro m(a) %}{{ a }}{% endmacro %}{{ m }}", "{% macro m(a) %}  {{ a }}  {% endmacro %}[{{ m(1) }}]",
    "{% macro m(a) -%}  {{ a }}  {%- endmacro %}[{{ m(1) }}]", "{% macro m(a=none) %}{{ a is none }}{% endmacro %}{{ m() }}",
    "{% macro m() %}{{ return([1, 2]) }}{% endmacro %}{{ m() | length }}",
    "{% macro m(x) %}{{ x * 2 }}{% endmacro %}{{ [1, 2] | map('string') | join }}|{{ m(3) }}",
    "{% macro inner() %}i{% endmacro %}{% macro outer() %}o{{ inner() }}{% endmacro %}{{ outer() }}",
    "{% filter upper %}abc{% endfilter %}", "{% with a = 1 %}{{ a }}{% endwith %}{{ a }}",
    "{% if undefined_name %}t{% else %}f{% endif %}", "{% if [] %}t{% elif {} %}e{% else %}f{% endif %}",
    "{{ undefined_name is defined }}{{ undefined_name | default('d') }}",
    "{{ undefined_name.attr }}", "{{ undefined_name['k'] }}", "{{ undefined_name | length }}",
    "{{ undefined_name ~ 'x' }}", "{{ none.attr }}", "{{ {'a': 1}.b }}", "{{ {'a': 1}.b | length }}",
    "{{ cycler('a', 'b').next() }}", "{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}",
    "{% set j = joiner(',') %}{% for i in range(3) %}{{ j() }}{{ i }}{% endfor %}",
    "{{ lipsum is defined }}", "{{ dict(a=1) }}", "{{ dict(a=1, b=none) }}", "{{ range(1, 10, 3) | list }}",
    "{{ '%s' | format(1) }}", "{{ 'x={}'.format(1) }}", "{{ '{a}'.format(a=2) }}", "{{ 'a b'.split() }}",
    "{{ 'abc'.startswith('a') }}{{ 'abc'.endswith('c') }}", "{{ '  x '.strip() }}|{{ 'xax'.strip('x') }}",
    "{{ 'a-b'.replace('-', '_') }}", "{{ 'ab'.title() }}{{ 'AB'.lower() }}{{ 'ab'.capitalize() }}",
    "{{ ','.join(['a', 'b']) }}", "{{ 'abc'.find('c') }}{{ 'abc'.count('a') }}", "{{ '1'.isdigit() }}{{ 'a'.isalpha() }}",
    "{{ 'a'.zfill(3) }}", "{{ 'a\\nb'.splitlines() }}", "{{ 'a=b'.partition('=') }}", "{{ 'abc'.rstrip('c') }}{{ 'abc'.lstrip('a') }}",
    "{{ {'a': 1} | tojson }}", "{{ {'a': none, 'b': true} | tojson }}", "{{ [1, 'a'] | join('-') }}",
    "{{ [{'a': 2}, {'a': 1}] | sort(attribute='a') | map(attribute='a') | list }}",
    "{{ [1, 2, 3] | select('odd') | list }}", "{{ [1, 2, 3] | reject('odd') | list }}",
    "{{ [{'a': 1}, {'a': none}] | selectattr('a') | list }}", "{{ [{'a': 1}, {'a': none}] | rejectattr('a', 'none') | list }}",
    "{{ [1, 2] | sum(start=10) }}", "{{ ['a', 'B'] | sort }}", "{{ ['a', 'B'] | sort(case_sensitive=true) }}",
    "{{ [1, 2, 3, 4] | batch(3, 0) | list }}", "{{ 'a' * 3 }}", "{{ 3 * [0] }}", "{{ 1 == 1.0 }}", "{{ 1 is sameas 1 }}",
    "{{ 0.1 + 0.2 }}", "{{ 1 / 3 }}", "{{ 2 ** 0.5 }}", "{{ 10 / 3 | round(2) }}", "{{ (10 / 3) | round(2) }}",
    "{{ 1000000.0 }}", "{{ 1e20 }}", "{{ 1e-5 }}", "{{ 12345678901234567890 }}", "{{ -0.0 }}", "{{ 3.0 * 2 }}",
    "{{ 'é' | length }}", "{{ 'ß' | upper }}", "{{ '<b>' }}", "{{ '<b>' | e }}",
    "{% set x = 'a' %}{% set y = x ~ 'b' %}{{ y }}",
    "{% if 1 %}{% set inner = 1 %}{% endif %}{{ inner }}", "{% for i in [1] %}{% set inner = 1 %}{% endfor %}{{ inner }}",
    "{{ [1, 2] == [1, 2] }}{{ (1, 2) == [1, 2] }}{{ {'a': 1} == {'a': 1} }}", "{{ 'a' < 'b' }}{{ [1] < [2] }}",
    "{{ none == none }}{{ none is none }}{{ undefined_name is none }}", "{{ true and 'x' }}|{{ false or [] }}|{{ 0 or 'z' }}",
    "{{ [1, 2, 3][1:] }}{{ [1, 2, 3][:1] }}", "{{ {'a': 1}['a'] }}", "{{ {'a': {'b': 2}}.a.b }}",
    "{{ ('a', 'b') | join('.') }}", "{{ {'x': 1} | list }}", "{{ {'x': 1} | length }}", "{{ 'ab' | list }}",
    "{{ [3, 1] | max }}{{ [3, 1] | min }}", "{{ [] | first }}", "{{ [] | max }}", "{{ 'abc' | first }}{{ 'abc' | last }}",
    "{{ 1.5 | int }}{{ '2' | int }}{{ 'x' | int }}{{ '1.5' | float }}", "{{ true | int }}", "{{ 5 | string ~ 1 }}",
]


def cases():
    for v in VALUES:
        yield "{{ %s }}" % v
    for f in FILTERS:
        for v in VALUES:
            yield "{{ %s | %s }}" % (v, f)
    for t in TESTS:
        for v in VALUES:
            yield "{{ %s is %s }}" % (v, t)
    for op in OPERATORS:
        for a in PAIR_VALUES:
            for b in PAIR_VALUES:
                yield "{{ %s %s %s }}" % (a, op, b)
    yield from STATEMENTS


def split_macros(template):
    """(definitions, rest) of a case that begins with macro definitions, else None."""
    ends = list(re.finditer(r"\{%-?\s*endmacro\s*-?%\}", template))
    if not template.startswith("{% macro") or not ends:
        return None
    return template[: ends[-1].end()], template[ends[-1].end():]


def render(env, template):
    """What dbt renders for `template` (see the module's doc for cases defining macros)."""
    split = split_macros(template)
    if split is None:
        return env.from_string(template).render({})
    definitions, rest = split
    context = {}

    def do_return(value):
        raise MacroReturn(value)

    context["return"] = do_return
    module = env.from_string(definitions).make_module(vars=context, shared=False)

    def generator(macro):
        def call(*args, **kwargs):
            try:
                return macro(*args, **kwargs)
            except MacroReturn as e:
                return e.value

        return call

    for key, value in module.__dict__.items():
        if key.startswith("dbt_macro__"):
            context[key[len("dbt_macro__"):]] = generator(value)
    return env.from_string(rest).render(context)


def main():
    env = get_environment()
    seen = set()
    with open(sys.argv[1], "w") as out:
        for template in cases():
            if template in seen:
                continue
            seen.add(template)
            try:
                output = render(env, template)
            except Exception:
                output = "!error"
            if " at 0x" in output:
                # A generator or object printed with its memory address: nothing to match.
                continue
            out.write(json.dumps({"template": template, "output": output}) + "\n")
    print(f"{len(seen)} cases", file=sys.stderr)


main()
