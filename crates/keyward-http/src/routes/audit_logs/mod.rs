pub mod list_logs;
