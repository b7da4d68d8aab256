-- pdca runtime schema, version 7 (sqlite): exact SLA time, and a metric per
-- target.
--
-- clocks: `accumulated` (whole minutes of the finished segments, floored at
-- every state entry) becomes two exact sums in microseconds: `wall_us`
-- (wall-clock time) and `business_us` (working time on the SLA's calendar;
-- wall-clock time for an SLA without one). `business` says which one the
-- current target counts: a duration written with `business` counts working
-- time, one written without it wall-clock time, even in an SLA that names a
-- calendar. `target` stays in minutes of that metric.
--
-- Existing clocks keep what they had counted: both sums start at their
-- accumulated minutes, and `business` = 1 keeps counting them as before
-- (version 6 counted working time whenever the SLA named a calendar, and
-- wall-clock time otherwise, which is what `business` = 1 means without a
-- calendar). The running segment (`segment_started_at`) is untouched, so no
-- time is lost; the next state entry re-targets the clock with the metric of
-- its target.

ALTER TABLE clocks ADD COLUMN wall_us BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clocks ADD COLUMN business_us BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clocks ADD COLUMN business BIGINT NOT NULL DEFAULT 1;
UPDATE clocks SET wall_us = accumulated * 60000000, business_us = accumulated * 60000000;
ALTER TABLE clocks DROP COLUMN accumulated;
