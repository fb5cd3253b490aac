/* Clientside callbacks: things only the browser can do (save the drawn chart as an image). */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  linewatch: {
    exportPng: function (n, key) {
      if (!n) { return window.dash_clientside.no_update; }
      var gd = document.querySelector('#cc-graph .js-plotly-plot');
      if (gd && window.Plotly) {
        var name = String(key || 'chart').replace(/[^A-Za-z0-9._-]/g, '_');
        window.Plotly.downloadImage(gd, {format: 'png', width: 1920, height: 1080, filename: name});
      }
      return String(n);
    }
  }
});
