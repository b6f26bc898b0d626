-- The bot's conversations, shared by every worker: each chat's context, the questions behind
-- buttons, the question log and feedback, uploads waiting for 确认入库 and admin dialogues.

CREATE TABLE bot_chats (                -- a chat's follow-up context and report restriction
    chat_id      bigint PRIMARY KEY,
    previous     text,
    scope        text[],
    scope_label  text NOT NULL DEFAULT '',
    updated      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bot_questions (            -- the question behind a button, by its id
    qid       text PRIMARY KEY,
    question  text NOT NULL,
    scope     text[],
    seen      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bot_questions_seen ON bot_questions (seen);

CREATE TABLE bot_question_log (         -- every question asked
    id        bigserial PRIMARY KEY,
    t         double precision NOT NULL,
    record    jsonb NOT NULL
);
CREATE INDEX bot_question_log_t ON bot_question_log (t);

CREATE TABLE bot_feedback (             -- every 👍/👎
    id        bigserial PRIMARY KEY,
    t         double precision NOT NULL,
    record    jsonb NOT NULL
);

CREATE TABLE bot_pending (              -- an upload's preview, waiting for its admin's decision
    token     text PRIMARY KEY,
    upload    jsonb NOT NULL,           -- who, the file's name, the corrections, the report
    data      bytea NOT NULL,           -- the file as uploaded
    created   double precision NOT NULL
);

CREATE TABLE bot_dialogues (            -- an admin's open dialogue (/addfact, a correction)
    chat_id   bigint NOT NULL,
    user_id   bigint NOT NULL,
    state     jsonb NOT NULL,
    updated   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, user_id)
);
