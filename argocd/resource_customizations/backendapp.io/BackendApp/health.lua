-- Argo CD health check for backendapp.io/v1alpha1 BackendApp.
--
-- Argo CD runs this with gopher-lua (Lua 5.1) and only the base and table
-- libraries: no string library, so no string methods either. `obj` is the
-- BackendApp; the script returns {status = ..., message = ...}.
--
-- The operator reports three metav1.Conditions (Ready, Progressing, Degraded),
-- each stamped with the metadata.generation it was computed from, and
-- status.observedGeneration. In order:
--   being deleted                          -> Progressing (the finalizer cleans up)
--   no conditions yet                      -> Progressing
--   status older than metadata.generation  -> Progressing: the conditions describe an older spec
--   Degraded=True                          -> Degraded, with its message
--   Ready=False for a reason only a person can fix (InvalidSpec, Forbidden, ...)
--                                          -> Degraded, with Ready's message
--   Ready=True                             -> Healthy
--   anything else                          -> Progressing, with Ready's message
--                                             (a release's migration running: Ready=False, Migrating)

-- Ready=False reasons the operator cannot get past by waiting.
local blockingReasons = {
  InvalidSpec = true,
  Forbidden = true,
  ApplyFailed = true,
  ProgressDeadlineExceeded = true,
  MigrationFailed = true,
}

local function condition(conditions, conditionType)
  for _, c in ipairs(conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local function messageOf(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c ~= nil and c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local hs = {}
local metadata = obj.metadata or {}

if metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Pending deletion"
  if metadata.finalizers ~= nil and #metadata.finalizers > 0 then
    hs.message = "Pending deletion; blocked by finalizers: " .. table.concat(metadata.finalizers, ", ")
  end
  return hs
end

local status = obj.status
if status == nil or status.conditions == nil or #status.conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

local ready = condition(status.conditions, "Ready")
local degraded = condition(status.conditions, "Degraded")

-- A spec change the operator has not acted on yet makes every condition stale.
local generation = metadata.generation
if generation ~= nil then
  local observed = status.observedGeneration
  if observed == nil and ready ~= nil then
    observed = ready.observedGeneration
  end
  local readyObserved = generation
  if ready ~= nil and ready.observedGeneration ~= nil then
    readyObserved = ready.observedGeneration
  end
  if (observed ~= nil and observed < generation) or readyObserved < generation then
    hs.status = "Progressing"
    hs.message = "Waiting for the operator to observe generation " .. generation
    return hs
  end
end

if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = messageOf(degraded, messageOf(ready, "Degraded"))
  return hs
end

if ready ~= nil and ready.status == "False" and ready.reason ~= nil and blockingReasons[ready.reason] then
  hs.status = "Degraded"
  hs.message = messageOf(ready, "Degraded")
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = messageOf(ready, "Ready")
  return hs
end

hs.status = "Progressing"
if ready == nil then
  hs.message = "Waiting for the Ready condition"
else
  hs.message = messageOf(ready, "Waiting for the app to become ready")
end
return hs
