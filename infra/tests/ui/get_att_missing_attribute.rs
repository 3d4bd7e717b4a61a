// A role has no ApiEndpoint attribute.
use infra::Stack;
use infra::intrinsics::attr;
use infra::resources::iam::Role;

fn main() {
    let mut stack = Stack::new("s");
    let role = stack
        .add(&stack.root().child("Role"), Role::for_service("lambda.amazonaws.com"))
        .unwrap();
    let _ = role.get_att(attr::ApiEndpoint);
}
