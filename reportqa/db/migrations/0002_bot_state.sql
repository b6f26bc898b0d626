-- The bot's state shared by every worker: one question budget per user, one daily digest.

CREATE TABLE bot_rate_hits (            -- the questions a user asked lately (sliding window)
    user_id  bigint NOT NULL,
    at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX bot_rate_hits_user_at ON bot_rate_hits (user_id, at);

CREATE TABLE bot_digests (              -- a day's digest, claimed by the worker that sends it
    day      date PRIMARY KEY,
    worker   text NOT NULL,
    sent_at  timestamptz NOT NULL DEFAULT now()
);
