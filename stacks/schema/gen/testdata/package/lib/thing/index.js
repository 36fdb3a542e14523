"use strict";
// Synthetic bindings in the shape the generator reads: a resource with a recursive nested block.
function exampleThingRuleToHclTerraform(struct) {
    if (!cdktn.canInspect(struct)) {
        return struct;
    }
    const attrs = {
        mode: {
            value: cdktn.stringToHclTerraform(struct.mode),
            isBlock: false,
            type: "simple",
            storageClassType: "string",
        },
        rule: {
            value: cdktn.listMapperHcl(exampleThingRuleToHclTerraform, true)(struct.rule),
            isBlock: true,
            type: "list",
            storageClassType: "ExampleThingRuleList",
        },
    };
    // remove undefined attributes
    return Object.fromEntries(Object.entries(attrs));
}
class ExampleThingRuleOutputReference extends cdktn.ComplexObject {
    // mode - computed: false, optional: false, required: true
    get mode() {
        return this.getStringAttribute('mode');
    }
    // rule - computed: false, optional: true, required: false
    get rule() {
        return this._rule;
    }
    // status - computed: true, optional: false, required: false
    get status() {
        return this.getStringAttribute('status');
    }
}
function exampleThingSettingsToHclTerraform(struct) {
    const attrs = {};
    return attrs;
}
function exampleThingTimeoutsToHclTerraform(struct) {
    const attrs = {};
    return attrs;
}
class ExampleThing extends cdktn.TerraformResource {
    static tfResourceType = "example_thing";
    // arn - computed: true, optional: false, required: false
    get arn() {
        return this.getStringAttribute('arn');
    }
    // name - computed: false, optional: false, required: true
    get name() {
        return this.getStringAttribute('name');
    }
    // tags - computed: false, optional: true, required: false
    // ports - computed: true, optional: true, required: false
    // rule - computed: false, optional: false, required: true
    // settings - computed: false, optional: true, required: false
    // timeouts - computed: false, optional: true, required: false
    synthesizeHclAttributes() {
        const attrs = {
            name: {
                value: cdktn.stringToHclTerraform(this._name),
                isBlock: false,
                type: "simple",
                storageClassType: "string",
            },
            tags: {
                value: cdktn.hashMapperHcl(cdktn.stringToHclTerraform)(this._tags),
                isBlock: false,
                type: "map",
                storageClassType: "stringMap",
            },
            ports: {
                value: cdktn.listMapperHcl(cdktn.numberToHclTerraform, false)(this._ports),
                isBlock: false,
                type: "set",
                storageClassType: "numberList",
            },
            rule: {
                value: cdktn.listMapperHcl(exampleThingRuleToHclTerraform, true)(this._rule.internalValue),
                isBlock: true,
                type: "set",
                storageClassType: "ExampleThingRuleList",
            },
            settings: {
                value: exampleThingSettingsToHclTerraform(this._settings.internalValue),
                isBlock: true,
                type: "list",
                storageClassType: "ExampleThingSettingsList",
            },
            timeouts: {
                value: exampleThingTimeoutsToHclTerraform(this._timeouts.internalValue),
                isBlock: true,
                type: "struct",
                storageClassType: "ExampleThingTimeouts",
            },
        };
        // remove undefined attributes
        return attrs;
    }
}
exports.ExampleThing = ExampleThing;
