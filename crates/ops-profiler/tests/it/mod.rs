mod capture;
mod concurrency;
mod error_if;
mod reports;
mod shapes;
mod ui;
