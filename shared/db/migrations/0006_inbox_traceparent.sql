-- The W3C trace context a handled message came with (NULL while tracing is off), so that
-- work done later because of it (a mail sent by the notification worker) joins its trace.
ALTER TABLE inbox ADD COLUMN traceparent text;
