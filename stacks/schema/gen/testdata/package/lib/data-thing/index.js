"use strict";
class DataExampleThing extends cdktn.TerraformDataSource {
    static tfResourceType = "example_thing";
    // name - computed: false, optional: false, required: true
    // nested - computed: false, optional: true, required: false
    synthesizeHclAttributes() {
        const attrs = {
            name: {
                value: cdktn.stringToHclTerraform(this._name),
                isBlock: false,
                type: "simple",
                storageClassType: "string",
            },
            nested: {
                value: cdktn.hashMapperHcl(index_1.dataExampleThingNestedToHclTerraform)(this._nested.internalValue),
                isBlock: true,
                type: "map",
                storageClassType: "DataExampleThingNestedMap",
            },
        };
        return attrs;
    }
}
function dataExampleThingNestedToHclTerraform(struct) {
    const attrs = {
        matrix: {
            value: cdktn.listMapperHcl(cdktn.listMapperHcl(cdktn.stringToHclTerraform, false), false)(struct.matrix),
            isBlock: false,
            type: "list",
            storageClassType: "stringListList",
        },
    };
    return attrs;
}
