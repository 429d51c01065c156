-- buildtrace.* parameters: defaults, validation, and buildtrace.setting().
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
-- The extension may already exist (an earlier test made it), so CREATE
-- EXTENSION need not have loaded the module that defines the parameters.
LOAD 'buildtrace';

SELECT name, setting, vartype, min_val, max_val, enumvals
FROM pg_settings WHERE name LIKE 'buildtrace.%' ORDER BY name;

SELECT buildtrace.setting('buildtrace.on_invalid');
SET buildtrace.on_invalid = 'reject';
SELECT buildtrace.setting('buildtrace.on_invalid');
RESET buildtrace.on_invalid;

-- Out-of-range and unknown values are refused.
SET buildtrace.on_invalid = 'ignore';
SET buildtrace.move_tolerance = -1;
SET buildtrace.spike_factor = 0.5;
SET buildtrace.health_failure_rate = 1.5;
SET buildtrace.health_p99_ms = -1;
SET buildtrace.no_such_setting = 1;
SELECT buildtrace.setting('buildtrace.no_such_setting');

-- The freed memory a backend keeps: bounded, in memory units.
SET buildtrace.keep_freed_memory = -1;
SET buildtrace.keep_freed_memory = '2GB';
SET buildtrace.keep_freed_memory = '1MB';
SET buildtrace.keep_freed_memory = '64MB';
SHOW buildtrace.keep_freed_memory;
RESET buildtrace.keep_freed_memory;
SHOW buildtrace.keep_freed_memory;
