pub mod create_workspace;
