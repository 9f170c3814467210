-- Lists the whole catalog page by page as a client does: each request follows the previous
-- answer's Link header; after the last page it starts again from the first.
-- Usage: wrk -c1 -s catalog-pages.lua URL -- /v2/_catalog?n=1000

local first, nextPath

function init(args)
  first = args[1]
end

function request()
  return wrk.format("GET", nextPath or first)
end

function response(status, headers, body)
  local link = headers["Link"] or headers["link"]
  nextPath = link and string.match(link, "<([^>]+)>") or nil
end
