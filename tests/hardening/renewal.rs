//! Renewal: durations that overflow, answers that cannot be right, GoodData tokens that must be revoked, and short-lived tokens.
