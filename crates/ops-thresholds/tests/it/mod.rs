mod evaluator;
mod promtool;
mod rules;
mod sinks;
