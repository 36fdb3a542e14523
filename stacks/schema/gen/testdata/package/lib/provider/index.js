"use strict";
function exampleProviderAssumeRoleToHclTerraform(struct) {
    const attrs = {
        role_arn: {
            value: cdktn.stringToHclTerraform(struct.roleArn),
            isBlock: false,
            type: "simple",
            storageClassType: "string",
        },
        duration: {
            value: cdktn.stringToHclTerraform(struct.duration),
            isBlock: false,
            type: "simple",
            storageClassType: "string",
        },
    };
    return attrs;
}
class ExampleProvider extends cdktn.TerraformProvider {
    static tfResourceType = "example";
    synthesizeHclAttributes() {
        const attrs = {
            region: {
                value: cdktn.stringToHclTerraform(this._region),
                isBlock: false,
                type: "simple",
                storageClassType: "string",
            },
            assume_role: {
                value: cdktn.listMapperHcl(exampleProviderAssumeRoleToHclTerraform, true)(this._assumeRole),
                isBlock: true,
                type: "list",
                storageClassType: "ExampleProviderAssumeRoleList",
            },
        };
        return attrs;
    }
}
