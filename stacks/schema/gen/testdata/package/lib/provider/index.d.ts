export interface ExampleProviderConfig {
    readonly region?: string;
    readonly assumeRole?: ExampleProviderAssumeRole[] | cdktn.IResolvable;
}
export interface ExampleProviderAssumeRole {
    readonly roleArn: string;
    readonly duration?: string;
}
