//! Acceptance scenarios of spec/resilience.md, on tokio's paused clock.

mod breaker;
mod bulkhead;
mod fixed_window;
mod health;
mod limiter;
mod pipeline;
mod retry;
mod support;
