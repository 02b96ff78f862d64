using System;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;

namespace Otc.Session.Tests
{
    /// <summary>A token with the connection id the server assigned to it.</summary>
    internal sealed class Token
    {
        public string Value;
        public string ConnectionId;
    }

    /// <summary>The real otc-server as a child process, and a tiny client of its OpenVidu 2.x REST API.</summary>
    internal sealed class TestServer : IDisposable
    {
        private readonly Process process;
        private readonly string secret;

        /// <summary><c>http://127.0.0.1:PORT</c>, read from the server's first stdout line.</summary>
        public readonly string HttpUrl;

        public TestServer(string binary, string secret)
        {
            this.secret = secret;
            ProcessStartInfo start = new ProcessStartInfo(binary, "--listen 127.0.0.1:0");
            start.UseShellExecute = false;
            start.RedirectStandardOutput = true;
            start.EnvironmentVariables["OPENVIDU_SECRET"] = secret;
            process = Process.Start(start);
            string first = process.StandardOutput.ReadLine();
            const string prefix = "otc-server listening on ";
            if (first == null || !first.StartsWith(prefix, StringComparison.Ordinal))
            {
                Dispose();
                throw new InvalidOperationException("unexpected first line from otc-server: " + first);
            }
            HttpUrl = first.Substring(prefix.Length).Trim();
            // Keep draining stdout so the server never blocks on a full pipe.
            StreamReader stdout = process.StandardOutput;
            Thread drain = new Thread(() => stdout.ReadToEnd());
            drain.IsBackground = true;
            drain.Start();
        }

        /// <summary>Calls the REST API; returns the status code and writes the body.</summary>
        public int Rest(string method, string path, string json, out string body)
        {
            HttpWebRequest request = (HttpWebRequest)WebRequest.Create(HttpUrl + "/openvidu/api" + path);
            request.Method = method;
            request.Timeout = 20000;
            request.Headers["Authorization"] = "Basic " +
                Convert.ToBase64String(Encoding.UTF8.GetBytes("OPENVIDUAPP:" + secret));
            request.ContentType = "application/json";
            if (json != null)
            {
                byte[] bytes = Encoding.UTF8.GetBytes(json);
                request.ContentLength = bytes.Length;
                using (Stream s = request.GetRequestStream()) s.Write(bytes, 0, bytes.Length);
            }
            HttpWebResponse response;
            try
            {
                response = (HttpWebResponse)request.GetResponse();
            }
            catch (WebException e)
            {
                response = e.Response as HttpWebResponse;
                if (response == null) throw;
            }
            using (response)
            using (StreamReader reader = new StreamReader(response.GetResponseStream(), Encoding.UTF8))
            {
                body = reader.ReadToEnd();
                return (int)response.StatusCode;
            }
        }

        /// <summary>Creates a session with <paramref name="id"/>.</summary>
        public void CreateSession(string id)
        {
            string body;
            int status = Rest("POST", "/sessions", "{\"customSessionId\":\"" + id + "\"}", out body);
            if (status != 200) throw new InvalidOperationException("create session: " + status + " " + body);
        }

        /// <summary>Creates a connection (token) with a role and server data.</summary>
        public Token CreateToken(string sessionId, string role, string data)
        {
            string body;
            int status = Rest("POST", "/sessions/" + sessionId + "/connection",
                "{\"role\":\"" + role + "\",\"data\":\"" + data + "\"}", out body);
            if (status != 200) throw new InvalidOperationException("create connection: " + status + " " + body);
            Token token = new Token();
            token.Value = JsonString(body, "token");
            token.ConnectionId = JsonString(body, "connectionId");
            return token;
        }

        /// <summary>Extracts a top-level string field (enough for the flat fields read here).</summary>
        public static string JsonString(string json, string field)
        {
            Match m = Regex.Match(json, "\"" + Regex.Escape(field) + "\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");
            if (!m.Success) throw new InvalidOperationException("no string field " + field + " in " + json);
            return m.Groups[1].Value.Replace("\\/", "/").Replace("\\\"", "\"").Replace("\\\\", "\\");
        }

        public void Dispose()
        {
            try
            {
                if (!process.HasExited) process.Kill();
                process.WaitForExit(10000);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }
    }
}
