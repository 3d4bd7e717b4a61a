//! CDK-style constructs: each adds a coherent group of resources, so nothing can be forgotten
//! (a route always comes with its integration and its invoke permission).

pub mod account;
pub mod api_keys;
pub mod authorizer;
pub mod function;
pub mod log_group;
pub mod secret;
pub mod stage;
pub mod table;
pub mod websocket_api;
