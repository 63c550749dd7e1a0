// UUIDs of ACS's permission model that only the stand-in needs (acs-contract.md §7): permissions it checks and the
// special targets and classes its dumps name.
export const AcsPerm = {
  ReadConfig: "4a339562-cd57-408d-9d1a-6529a383ea4b",
  WriteConfig: "6c799ccb-d2ad-4715-a2a7-3c8728d6c0bf",
  CreateObject: "ae09e2ba-50ef-11f0-ac03-1f9f5e6548be",
  CreateSpecificObject: "e3491b9c-50f1-11f0-8e16-e75c8f93227b",
  DeleteObject: "6957174b-7b08-45ca-ac5c-c03ab6928a6e",
  ReadMembers: "d4fd61da-50ef-11f0-ad24-335234e4c8a2",
  WriteMembers: "c2759f6e-50ef-11f0-8730-ef0ba0514a0e",
  WriteMemberships: "e08d89bc-50ef-11f0-8352-83e3d3d35028",
  ReadACL: "ba566181-0e8a-405b-b16e-3fb89130fbee",
  ManageACL: "3a41f5ce-fc08-4669-9762-ec9e71061168",
  ManageKerberos: "327c4cc8-9c46-4e1e-bb6b-257ace37b0f6",
  ReadKerberos: "e8c9c0f7-0d54-4db2-b8d6-cd80c45f6a5c",
  AdvertiseService: "4db4c39a-f18d-4e83-aeb0-5af2c14ddc2b",
} as const;

export const AcsTarget = {
  Null: "00000000-0000-0000-0000-000000000000",
  /** Objects the caller owns (their registration's owner is the caller). */
  Mine: "724c0316-4cfd-11f0-b355-0b70840faae8",
} as const;

export const AcsGroup = {
  /** The Cluster Manager role: its members get the grants of dumps/cluster-manager.yaml. */
  ClusterManager: "26d192cf-73c1-4c14-93cf-1e63743bab08",
  /** Groups the Cluster Manager may add members to (its flux, krbkeys and repository groups are members). */
  ClustersManaged: "979f7fd9-bbc7-4810-a774-6082c7394db6",
  /** The Clusters service's permission set (Manage clusters, Manage secrets). */
  ClusterPermissions: "9e07fd33-6400-4662-92c4-4dff1f61f990",
} as const;

export const AcsDumpService = {
  ConfigDB: "af15f175-78a0-4e05-97c0-2a0bb82b9f3b",
  Auth: "cab2642a-f7d9-42e5-8845-8f35affe1fd4",
} as const;
