-- The statistics macros against known values (returns the checks that fail):
-- - erfc at several points, within Numerical Recipes' bound (fractional error < 1.2e-7), from
--   the exact values erfc(0) = 1, erfc(0.5) = 0.4795001222, erfc(1) = 0.1572992071,
--   erfc(2) = 0.0046777350, erfc(-1) = 1.8427007929, erfc(3) = 2.209049700e-5;
-- - the published table of DOMAIN.md: Control 17/693, A 36/713, B 114/697 gives Pearson
--   chi-square 104.218 (df 2) and p = 2.34e-23;
-- - two-sided p of z = 1.959964 is 0.05.
with erfc_cases as (
    select * from (values
        (0.0, 1.0),
        (0.5, 0.4795001222),
        (1.0, 0.1572992071),
        (2.0, 0.0046777350),
        (-1.0, 1.8427007929),
        (3.0, 0.00002209049700)
    ) as t(x, expected)
),

erfc_checks as (
    select
        'erfc(' || x || ')' as check_name,
        {{ erfc('x') }} as actual,
        expected
    from erfc_cases
    where abs({{ erfc('x') }} - expected) / expected > 1.2e-7
),

published as (
    select * from (values ('Control', 17, 693), ('A', 36, 713), ('B', 114, 697))
        as t(ab_group, applications, users)
),

published_stats as (
    {{ ab_test_statistics('published') }}
),

table_checks as (
    select 'chi_square' as check_name, chi_square as actual, 104.218 as expected
    from published_stats
    where ab_group = 'Control' and abs(chi_square - 104.218) > 0.0005
    union all
    select 'chi_square_p_value', chi_square_p_value, 2.34e-23
    from published_stats
    where ab_group = 'Control' and abs(chi_square_p_value - 2.34e-23) > 0.005e-23
    union all
    select 'chi_square_df', chi_square_df, 2
    from published_stats
    where ab_group = 'Control' and chi_square_df <> 2
),

z_checks as (
    select 'p_value_two_sided(1.959964)' as check_name, {{ p_value_two_sided('1.959964') }} as actual, 0.05 as expected
    where abs({{ p_value_two_sided('1.959964') }} - 0.05) > 1e-6
)

select * from erfc_checks
union all select * from table_checks
union all select * from z_checks
