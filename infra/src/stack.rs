//! The stack being built: resources kept typed until synth, their logical IDs claimed from
//! construct paths, and the checks that run when it is synthesized.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};

use crate::error::{SynthError, Warning};
use crate::intrinsics::Handle;
use crate::path::ConstructPath;
use crate::resources::Resource;
use crate::template::{
    CheckovMetadata, CheckovSkip, Metadata, Output, Param, Parameter, RemovalPolicy, ResourceEntry,
    Template,
};
use crate::validate;

/// A resource stored type-erased until synth, still reachable typed through its handle.
trait AnyResource {
    fn to_value(&self) -> Result<serde_json::Value, serde_json::Error>;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<R: Resource> AnyResource for R {
    fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

struct Slot {
    path: ConstructPath,
    type_name: &'static str,
    resource: Box<dyn AnyResource>,
    depends_on: BTreeSet<String>,
    deletion_policy: Option<RemovalPolicy>,
    update_replace_policy: Option<RemovalPolicy>,
    metadata: Metadata,
}

/// A stack under construction. Constructs add resources to it; `synth` validates and
/// produces the `Template`.
pub struct Stack {
    name: String,
    description: Option<String>,
    resources: BTreeMap<String, Slot>,
    parameters: BTreeMap<String, (ConstructPath, Parameter)>,
    outputs: BTreeMap<String, (ConstructPath, Output)>,
    warnings: Vec<Warning>,
}

/// A synthesized template and what deserves a look.
#[derive(Debug, Clone)]
pub struct Synthesized {
    pub template: Template,
    pub warnings: Vec<Warning>,
}

impl Stack {
    pub fn new(name: &str) -> Stack {
        Stack {
            name: name.to_owned(),
            description: None,
            resources: BTreeMap::new(),
            parameters: BTreeMap::new(),
            outputs: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn set_description(&mut self, description: &str) {
        self.description = Some(description.to_owned());
    }

    /// The root scope of this stack's constructs.
    pub fn root(&self) -> ConstructPath {
        ConstructPath::root(&self.name)
    }

    /// Claims the logical ID `path` gives, or names both claimants.
    fn claim(&self, path: &ConstructPath) -> Result<String, SynthError> {
        let id = path.logical_id();
        validate::logical_id(path, &id)?;
        let existing = self
            .resources
            .get(&id)
            .map(|slot| &slot.path)
            .or_else(|| self.parameters.get(&id).map(|(p, _)| p));
        if let Some(first) = existing {
            return Err(SynthError::LogicalIdCollision {
                logical_id: id,
                first: first.to_string(),
                second: path.to_string(),
            });
        }
        Ok(id)
    }

    /// Adds a resource whose logical ID derives from `path`.
    pub fn add<R: Resource>(
        &mut self,
        path: &ConstructPath,
        resource: R,
    ) -> Result<Handle<R>, SynthError> {
        let id = self.claim(path)?;
        self.resources.insert(
            id.clone(),
            Slot {
                path: path.clone(),
                type_name: R::TYPE,
                resource: Box::new(resource),
                depends_on: BTreeSet::new(),
                deletion_policy: None,
                update_replace_policy: None,
                metadata: Metadata::default(),
            },
        );
        Ok(Handle::new(id))
    }

    pub fn add_parameter(
        &mut self,
        path: &ConstructPath,
        parameter: Parameter,
    ) -> Result<Handle<Param>, SynthError> {
        let id = self.claim(path)?;
        self.parameters
            .insert(id.clone(), (path.clone(), parameter));
        Ok(Handle::new(id))
    }

    /// Adds an output named after the last segment of `path`.
    pub fn add_output(&mut self, path: &ConstructPath, output: Output) -> Result<(), SynthError> {
        let id = path.logical_id();
        validate::logical_id(path, &id)?;
        if let Some((first, _)) = self.outputs.get(&id) {
            return Err(SynthError::LogicalIdCollision {
                logical_id: id,
                first: first.to_string(),
                second: path.to_string(),
            });
        }
        self.outputs.insert(id, (path.clone(), output));
        Ok(())
    }

    fn slot_mut<R>(&mut self, handle: &Handle<R>) -> Result<&mut Slot, SynthError> {
        self.resources
            .get_mut(handle.logical_id())
            .ok_or_else(|| SynthError::WrongHandle {
                path: handle.logical_id().to_owned(),
                expected: "resource",
            })
    }

    /// The resource behind a handle, to change it before synth (e.g. add a policy to a role).
    pub fn get_mut<R: Resource>(&mut self, handle: &Handle<R>) -> Result<&mut R, SynthError> {
        let slot = self.slot_mut(handle)?;
        let path = slot.path.to_string();
        slot.resource
            .as_any_mut()
            .downcast_mut::<R>()
            .ok_or(SynthError::WrongHandle {
                path,
                expected: R::TYPE,
            })
    }

    /// `DependsOn`: `resource` is created after `on`.
    pub fn add_dependency<R, O>(
        &mut self,
        resource: &Handle<R>,
        on: &Handle<O>,
    ) -> Result<(), SynthError> {
        let on = on.logical_id().to_owned();
        self.slot_mut(resource)?.depends_on.insert(on);
        Ok(())
    }

    pub fn set_removal_policy<R>(
        &mut self,
        resource: &Handle<R>,
        policy: RemovalPolicy,
    ) -> Result<(), SynthError> {
        let slot = self.slot_mut(resource)?;
        slot.deletion_policy = Some(policy);
        slot.update_replace_policy = Some(policy);
        Ok(())
    }

    pub fn set_package<R>(
        &mut self,
        resource: &Handle<R>,
        package: &str,
    ) -> Result<(), SynthError> {
        self.slot_mut(resource)?.metadata.package = Some(package.to_owned());
        Ok(())
    }

    /// Records why a checkov check doesn't apply to this resource.
    pub fn skip_checkov<R>(
        &mut self,
        resource: &Handle<R>,
        id: &str,
        reason: &str,
    ) -> Result<(), SynthError> {
        let slot = self.slot_mut(resource)?;
        let checkov = slot
            .metadata
            .checkov
            .get_or_insert_with(CheckovMetadata::default);
        checkov.skip.push(CheckovSkip {
            id: id.to_owned(),
            comment: reason.to_owned(),
        });
        Ok(())
    }

    pub fn warn(&mut self, path: &ConstructPath, message: impl Into<String>) {
        self.warnings.push(Warning {
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// Validates and produces the template.
    pub fn synth(self) -> Result<Synthesized, SynthError> {
        validate::stack_name(&self.name)?;
        if self.resources.is_empty() {
            return Err(SynthError::EmptyStack { stack: self.name });
        }
        let mut resources = BTreeMap::new();
        let mut paths = BTreeMap::new();
        for (id, slot) in self.resources {
            let properties = slot
                .resource
                .to_value()
                .map_err(|source| SynthError::Serialize {
                    path: slot.path.to_string(),
                    source,
                })?;
            paths.insert(id.clone(), slot.path.to_string());
            resources.insert(
                id,
                ResourceEntry {
                    type_name: slot.type_name,
                    properties,
                    depends_on: slot.depends_on.into_iter().collect(),
                    deletion_policy: slot.deletion_policy,
                    update_replace_policy: slot.update_replace_policy,
                    metadata: slot.metadata,
                },
            );
        }
        for (id, (path, _)) in &self.outputs {
            paths.insert(format!("Outputs/{id}"), path.to_string());
        }
        let template = Template {
            format_version: "2010-09-09",
            description: self.description,
            parameters: self
                .parameters
                .into_iter()
                .map(|(id, (_, p))| (id, p))
                .collect(),
            resources,
            outputs: self
                .outputs
                .into_iter()
                .map(|(id, (_, o))| (id, o))
                .collect(),
        };
        validate::template(&self.name, &template, &paths)?;
        let mut warnings = self.warnings;
        warnings.extend(validate::websocket_apis(&template, &paths)?);
        Ok(Synthesized { template, warnings })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::logs::LogGroup;

    fn group() -> LogGroup {
        LogGroup {
            log_group_name: None,
            retention_in_days: 7,
        }
    }

    #[test]
    fn a_collision_names_both_construct_paths() {
        let mut stack = Stack::new("s");
        stack
            .add(&stack.root().child("echo").child("Logs"), group())
            .unwrap();
        let err = stack
            .add(&stack.root().child("Echo").child("Logs"), group())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`EchoLogs`"), "{err}");
        assert!(
            err.contains("s/echo/Logs") && err.contains("s/Echo/Logs"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_stack_does_not_synthesize() {
        let err = Stack::new("s").synth().unwrap_err().to_string();
        assert!(err.contains("no resources"), "{err}");
    }

    #[test]
    fn a_handle_from_another_stack_is_refused() {
        let mut one = Stack::new("one");
        let mut two = Stack::new("two");
        let handle = one.add(&one.root().child("Logs"), group()).unwrap();
        two.add(&two.root().child("Other"), group()).unwrap();
        let err = two.get_mut(&handle).unwrap_err().to_string();
        assert!(err.contains("another stack"), "{err}");
    }
}
