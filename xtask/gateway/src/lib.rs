//! The local API Gateway (being moved here from xtask/src/gateway).
