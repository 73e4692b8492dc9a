mod capture;
mod concurrency;
mod reports;
mod shapes;
mod ui;
