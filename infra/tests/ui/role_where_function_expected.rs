// A Lambda permission needs a function's ARN; a role's ARN must not fit.
use infra::Stack;
use infra::intrinsics::attr;
use infra::resources::iam::Role;
use infra::resources::lambda::Permission;

fn main() {
    let mut stack = Stack::new("s");
    let role = stack
        .add(&stack.root().child("Role"), Role::for_service("lambda.amazonaws.com"))
        .unwrap();
    let _ = Permission {
        action: "lambda:InvokeFunction".into(),
        function_name: role.get_att(attr::Arn),
        principal: "apigateway.amazonaws.com".into(),
        source_arn: "arn".into(),
    };
}
